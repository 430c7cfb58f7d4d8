// The device client's size as a page would load it: dist/client/index.js
// (run `npm run build` first) minified with esbuild, then gzipped.
// Usage: node scripts/client-size.mjs
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const FILE = new URL('../dist/client/index.js', import.meta.url)

let esbuild
try {
  // Not a dependency of roomgate: it comes with vitest (vite) in a checkout.
  esbuild = await import('esbuild')
} catch {
  console.error('esbuild is not installed: run npm install in the checkout')
  process.exit(1)
}

let source
try {
  source = readFileSync(FILE, 'utf8')
} catch {
  console.error(`${FILE.pathname} is missing: run npm run build first`)
  process.exit(1)
}
source = source.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n')

const { code } = await esbuild.transform(source, { minify: true, format: 'esm', target: 'es2022' })
const min = Buffer.byteLength(code)
const gz = gzipSync(code, { level: 9 }).length
const gzRaw = gzipSync(source, { level: 9 }).length

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`
console.log(`dist/client/index.js: ${Buffer.byteLength(source)} bytes (${gzRaw} gzipped, not minified)`)
console.log(`minified:             ${min} bytes (${kb(min)})`)
console.log(`minified + gzipped:   ${gz} bytes (${kb(gz)})`)
