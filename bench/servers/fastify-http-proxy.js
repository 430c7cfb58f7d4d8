// @fastify/http-proxy forwarding /v1/measurement to the same upstream, as its
// README shows. Prints its port on stdout.
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'

const app = Fastify({ logger: false })
await app.register(proxy, {
  upstream: process.env.UPSTREAM,
  prefix: '/v1/measurement',
  rewritePrefix: '/v1/measurement',
})
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
console.log(JSON.stringify({ port: app.server.address().port }))
