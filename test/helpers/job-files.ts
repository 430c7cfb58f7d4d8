/** Real files in a temporary cache root for job tests. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export interface TempRoot {
  dir: string
  /** Writes `size` bytes at `rel` (folders created). */
  file(rel: string, size: number): Promise<string>
  remove(): Promise<void>
}

export async function tempRoot(): Promise<TempRoot> {
  const dir = await mkdtemp(join(tmpdir(), 'roomgate-jobs-'))
  return {
    dir,
    async file(rel, size) {
      const path = join(dir, rel)
      await mkdir(dirname(path), { recursive: true })
      await writeFile(path, Buffer.alloc(size, 7))
      return path
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  }
}

export const KEY = 'demo-api-key-2024'

export function jobsApi(baseUrl: string, key: string = KEY) {
  const headers = { 'x-api-key': key, 'content-type': 'application/json' }
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}/api/v1/cache/jobs${path}`, {
      method,
      headers: body === undefined ? { 'x-api-key': key } : headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: res.status, headers: res.headers, body: (await res.json()) as any }
  }
  return {
    create: (body: unknown) => call('POST', '', body),
    list: () => call('GET', ''),
    get: (id: string) => call('GET', `/${id}`),
    cancel: (id: string) => call('DELETE', `/${id}`),
  }
}
