import 'reflect-metadata'
import { NestFactory } from '@nestjs/core'
import { AppModule } from './app.module.js'

// `PORT=0` picks a free port; the URL printed below is the one to use.
const port = Number(process.env.PORT ?? 3000)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  throw new RangeError(`Expected PORT to be an integer from 0 to 65535, got ${process.env.PORT}.`)
}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] })
// Closes the module's controller too: requests arriving while the app drains get 503 `closed`.
app.enableShutdownHooks()
await app.listen(port, '127.0.0.1')
console.log(`listening on ${await app.getUrl()}`)
