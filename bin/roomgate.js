#!/usr/bin/env node
// The `roomgate` command. The TypeScript sources are compiled to dist/ by
// `npm install` (the prepare script); this file only loads them.
import { existsSync } from 'node:fs'

const entry = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(entry)) {
  console.error('roomgate: dist/ is missing. Run `npm install` (or `npm run build`) in the roomgate folder first.')
  process.exit(1)
}
const { main } = await import(entry.href)
const code = await main(process.argv.slice(2))
process.exit(code)
