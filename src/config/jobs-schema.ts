/**
 * The jobs section of the config (seed 002's cache jobs). Without `jobs.root`
 * the API still answers listings but refuses new jobs: roomgate reads files
 * only from a folder the operator named.
 */
import Type from 'typebox'

/** The seed's three mount points: macOS, Windows and Linux clients of the same LucidLink filespace. */
export const DEFAULT_MOUNT_PREFIXES = ['/Volumes/dmpfs/tc-east-1', 'C:\\dmpfs\\tc-east-1', '/mnt/lucidlink/tc-east-1']
export const DEFAULT_JOB_CONCURRENCY = 4
export const DEFAULT_MAX_FILES_PER_JOB = 100_000
export const DEFAULT_PROGRESS_FILE_THRESHOLD = 10
export const DEFAULT_PROGRESS_TIME_THRESHOLD_MS = 2_000
export const DEFAULT_JOBS_PER_MINUTE = 10
export const DEFAULT_JOB_READS_PER_MINUTE = 120
export const DEFAULT_JOB_RETENTION_SECONDS = 7 * 24 * 3600
/** Generous: a network mount fetching metadata can be slow, but not half a minute for one call. */
export const DEFAULT_FS_TIMEOUT_MS = 30_000

const section = { additionalProperties: false, default: {} } as const

export const JobsSchema = Type.Object(
  {
    root: Type.Optional(
      Type.String({ minLength: 1, description: 'Folder the cache jobs read from (env JOBS_ROOT). Absent: no new jobs.' }),
    ),
    mountPrefixes: Type.Array(Type.String({ minLength: 1 }), {
      default: DEFAULT_MOUNT_PREFIXES,
      description: "Absolute client paths under these prefixes are taken as paths under `root`.",
    }),
    concurrency: Type.Integer({ minimum: 1, maximum: 64, default: DEFAULT_JOB_CONCURRENCY, description: 'Files read at once per job.' }),
    maxRunning: Type.Integer({ minimum: 1, maximum: 16, default: 1, description: 'Jobs one instance runs at once.' }),
    maxBytesPerSecond: Type.Integer({
      minimum: 0,
      default: 0,
      description: "Read bandwidth cap per instance (like rclone's --bwlimit); 0: none.",
    }),
    maxQueued: Type.Integer({
      minimum: 1,
      default: 1_000,
      description: 'Jobs pending or running in the cluster; past it new jobs are refused (503).',
    }),
    maxFiles: Type.Integer({ minimum: 1, default: DEFAULT_MAX_FILES_PER_JOB, description: 'Distinct files one job may hold.' }),
    fsTimeoutMs: Type.Integer({
      minimum: 100,
      default: DEFAULT_FS_TIMEOUT_MS,
      description:
        'Deadline of each filesystem call of the jobs (walk, open, read): past it the job fails (a new one is refused with 503) instead of hanging on a stalled mount.',
    }),
    progressFileThreshold: Type.Integer({
      minimum: 1,
      default: DEFAULT_PROGRESS_FILE_THRESHOLD,
      description: 'Progress is written after this many files (env CACHE_PROGRESS_FILE_THRESHOLD)…',
    }),
    progressTimeThresholdMs: Type.Integer({
      minimum: 10,
      default: DEFAULT_PROGRESS_TIME_THRESHOLD_MS,
      description: '…or after this many milliseconds, whichever comes first (env CACHE_PROGRESS_TIME_THRESHOLD).',
    }),
    rateLimit: Type.Object(
      {
        perMinute: Type.Number({
          exclusiveMinimum: 0,
          default: DEFAULT_JOBS_PER_MINUTE,
          description: 'Job creations and cancels per minute per API key (burst: the same number).',
        }),
        readsPerMinute: Type.Number({
          exclusiveMinimum: 0,
          default: DEFAULT_JOB_READS_PER_MINUTE,
          description: 'Job reads (GET) per minute per API key (burst: the same number): pollers have their own budget.',
        }),
      },
      section,
    ),
    leaseSeconds: Type.Number({
      minimum: 0.5,
      default: 15,
      description: 'A running job whose instance writes nothing for this long is resumed by another instance.',
    }),
    retentionSeconds: Type.Integer({
      minimum: 1,
      default: DEFAULT_JOB_RETENTION_SECONDS,
      description: 'Finished jobs are kept this long.',
    }),
    backendWsUrl: Type.Optional(
      Type.String({ pattern: '^wss?://', description: 'Backend WebSocket with LucidLink throughput stats (env BACKEND_WS_URL).' }),
    ),
  },
  section,
)
