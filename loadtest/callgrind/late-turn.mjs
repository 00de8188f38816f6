// Instructions of the late-turn check on the admitted path (`turnIsLate()` from
// packages/node/src/late-turn.ts, loaded through tsx):
//   valgrind --tool=callgrind node --import tsx loadtest/callgrind/late-turn.mjs <calls> [on|none]
// It calls the check <calls> times, 8 per event-loop turn as keep-alive connections'
// requests arrive. Per call: the difference of two call counts' totals, minus the
// same difference with `none` (the loop alone), divided by the difference of counts.
const { turnIsLate } = await import('../../packages/node/src/late-turn.ts')
const calls = Number(process.argv[2] ?? 1000)
const on = process.argv[3] !== 'none'
let left = calls
let late = 0
function turn() {
  for (let i = 0; i < 8 && left > 0; i++, left--) if (on && turnIsLate()) late++
  if (left > 0) setImmediate(turn)
  else console.log(JSON.stringify({ calls, on, late }))
}
turn()
