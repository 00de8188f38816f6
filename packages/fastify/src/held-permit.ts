/**
 * Holding a slot until both the response has ended and the handler's work
 * has settled: an async handler may `reply.send()` and keep working, and that
 * work still loads the server. The gate releases on the response's end; this
 * wraps each permit it is granted so that release waits for the work too.
 */
import type {
  AdmissionController,
  AdmissionRequest,
  AdmitOptions,
  Decision,
  Outcome,
  Permit,
} from '@spillway/core'

/** A permit (and its own admitted decision) whose release waits while the handler's promise is pending. */
export class HeldPermit implements Permit {
  readonly admitted = true as const
  readonly #permit: Permit
  #working = false
  #outcome: Outcome | undefined

  constructor(permit: Permit) {
    this.#permit = permit
  }

  get permit(): Permit {
    return this
  }

  get released(): boolean {
    return this.#permit.released
  }

  get priority(): string {
    return this.#permit.priority
  }

  /** Called by the gate when the response ends (or its client leaves). */
  release(outcome?: Outcome): void {
    if (this.#working) this.#outcome ??= outcome ?? 'success'
    else this.#permit.release(outcome)
  }

  /** Holds the slot until `work` settles. */
  hold(work: PromiseLike<unknown>): void {
    this.#working = true
    const settled = (): void => {
      this.#working = false
      if (this.#outcome !== undefined) this.#permit.release(this.#outcome)
    }
    work.then(settled, settled)
  }
}

/**
 * The controller as the gate sees it, handing out `HeldPermit`s. `claim`
 * receives each one for the request being admitted, which the adapter marks
 * just before entering the gate (admission is synchronous up to the queue).
 */
export function holdingController(
  controller: AdmissionController,
  claim: (held: HeldPermit, target: unknown) => void,
  current: () => unknown,
): AdmissionController {
  const wrap = (decision: Decision, target: unknown): Decision => {
    if (!decision.admitted) return decision
    const held = new HeldPermit(decision.permit)
    claim(held, target)
    return held
  }
  const view: Pick<AdmissionController, 'admit' | 'reportError' | 'now' | 'priorities'> = {
    admit(request?: AdmissionRequest, options?: AdmitOptions) {
      const target = current()
      const decision = controller.admit(request, options)
      return decision instanceof Promise
        ? decision.then((settled) => wrap(settled, target))
        : wrap(decision, target)
    },
    reportError: (source, error) => controller.reportError(source, error),
    now: () => controller.now(),
    priorities: controller.priorities,
  }
  return view as AdmissionController
}
