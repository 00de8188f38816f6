export const placeholder = 'koa'
