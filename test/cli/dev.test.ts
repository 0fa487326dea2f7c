// Its own file: oidc-provider must not have been imported in this worker before `gatehouse dev`
// runs, or its start-up warning could not be seen (or missed).
import { describe, expect, it, vi } from 'vitest'
import { main } from '../../src/cli/main.js'

function capture() {
  let text = ''
  return {
    stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream,
    text: () => text,
  }
}

describe('gatehouse dev', () => {
  it('--memory says on stop that nothing was kept, and prints no oidc-provider runtime warning', async () => {
    const warn = vi.spyOn(console, 'warn')
    const out = capture()
    const err = capture()
    const running = main(['dev', '--memory', '--port', '0'], out.stream, err.stream)
    await vi.waitFor(
      () => {
        expect(out.text()).toContain('Ctrl-C stops.')
      },
      { timeout: 15_000, interval: 50 },
    )
    expect(out.text()).toContain('  Data               in memory\n')
    process.emit('SIGTERM', 'SIGTERM')
    expect(await running).toBe(0)
    expect(out.text()).toMatch(/Gatehouse dev stopped; nothing was kept \(--memory\)\.\n$/)
    expect(out.text()).not.toContain('data kept')
    expect(err.text()).toBe('')
    // The warning oidc-provider prints on import under Node < 22 (this machine runs Node 20).
    expect(warn.mock.calls.flat().join('\n')).not.toContain('Unsupported runtime')
    warn.mockRestore()
  })
})
