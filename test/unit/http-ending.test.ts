/**
 * `Ending`: the early end of a request or an upstream call without an `AbortSignal` until one is
 * asked for; `onDeparture`/`departed` on the Node adapter's requests and on any other `Request`.
 */
import { describe, expect, it } from 'vitest'
import { departed, Ending, onDeparture, recordDeparture } from '../../src/http/ending.js'

describe('Ending', () => {
  it('calls each listener once with the first reason, and a later end changes nothing', () => {
    const ending = new Ending()
    const heard: unknown[] = []
    ending.onEnd((reason) => heard.push(['a', reason]))
    const stop = ending.onEnd((reason) => heard.push(['b', reason]))
    ending.onEnd((reason) => heard.push(['c', reason]))
    stop()
    const first = new Error('timeout')
    ending.end(first)
    ending.end(new Error('later'))
    expect(heard).toEqual([
      ['a', first],
      ['c', first],
    ])
    expect(ending.ended).toBe(true)
    expect(ending.reason).toBe(first)
  })

  it('tells a listener that comes after the end at once', () => {
    const ending = new Ending()
    ending.end('gone')
    const heard: unknown[] = []
    ending.onEnd((reason) => heard.push(reason))
    expect(heard).toEqual(['gone'])
  })

  it('gives a signal that aborts with its reason, asked for before or after the end', () => {
    const before = new Ending()
    const early = before.signal
    expect(early.aborted).toBe(false)
    const why = new Error('closing')
    before.end(why)
    expect(early.aborted).toBe(true)
    expect(early.reason).toBe(why)

    const after = new Ending()
    after.end(why)
    expect(after.signal.aborted).toBe(true)
    expect(after.signal.reason).toBe(why)
  })

  it("aborts with the signal's own AbortError when no reason was given", () => {
    const ending = new Ending()
    const signal = ending.signal
    ending.end()
    expect(signal.aborted).toBe(true)
    expect((signal.reason as DOMException).name).toBe('AbortError')
  })
})

describe('onDeparture and departed', () => {
  it('follow the recorded ending of a request', () => {
    const request = new Request('http://127.0.0.1/')
    const ending = new Ending()
    recordDeparture(request, ending)
    let heard = 0
    onDeparture(request, () => heard++)
    const stop = onDeparture(request, () => heard++)
    stop()
    expect(departed(request)).toBe(false)
    ending.end()
    expect(departed(request)).toBe(true)
    expect(heard).toBe(1)
  })

  it('follow the signal of a request the adapter did not make', () => {
    const controller = new AbortController()
    const request = new Request('http://127.0.0.1/', { signal: controller.signal })
    let heard = 0
    onDeparture(request, () => heard++)
    const stop = onDeparture(request, () => heard++)
    stop()
    controller.abort()
    expect(departed(request)).toBe(true)
    expect(heard).toBe(1)
    onDeparture(request, () => heard++)
    expect(heard).toBe(2)
  })
})
