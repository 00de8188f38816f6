export const placeholder = 'express'
