import pLimit from 'p-limit'

it('loads ESM-only p-limit through jest', async () => {
  const limit = pLimit(1)
  expect(await limit(async () => 42)).toBe(42)
})
