// PartitionRecord.isrProcesses (broker/control/records.ts) as a property over random histories: brokers
// restart (a new process), lose their lease and take another in the same process (an etcd outage), or
// stop; the partition record is rewritten with random ISRs and leaders, as leaders' ISR writes and the
// controller's elections do. After every step, an ISR member is judged restarted exactly when its broker
// runs another process than the one it had when the ISR last took it in (or when it last led under the
// record's registration). The rule this replaced (the process started after the record's last write) fails
// it: a rewrite after a restart hid the restart (docs/faults.md, bug 7).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Versioned } from '../../../broker/control/cluster-view.js';
import { type BrokerRecord, type PartitionRecord, processRevisionOf, restartedSinceIsr, withIsrProcesses } from '../../../broker/control/records.js';

const IDS = [1, 2, 3, 4];

type Step =
  | { kind: 'restart'; id: number }
  | { kind: 'new-lease'; id: number }
  | { kind: 'stop'; id: number }
  | { kind: 'write'; keep: boolean[]; add: boolean[]; leaderPick: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('restart' as const), id: fc.constantFrom(...IDS) }),
  fc.record({ kind: fc.constant('new-lease' as const), id: fc.constantFrom(...IDS) }),
  fc.record({ kind: fc.constant('stop' as const), id: fc.constantFrom(...IDS) }),
  fc.record({
    kind: fc.constant('write' as const),
    keep: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    add: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    leaderPick: fc.nat(),
  }),
);

/** etcd as far as the rule sees it: one revision counter, broker registrations, one partition record. */
class Model {
  private rev = 0;
  readonly regs = new Map<number, Versioned<BrokerRecord>>();
  /** The process each broker runs (its first registration's revision), or last ran when stopped. */
  readonly proc = new Map<number, number>();
  /** What the rule must answer: the process each ISR member had when the ISR took it in. */
  readonly joined = new Map<number, number>();
  rec: Versioned<PartitionRecord>;

  constructor() {
    for (const id of IDS) this.restart(id);
    const first: PartitionRecord = { topic: 't', topicId: 1, partition: 0, replicas: [...IDS], leader: 1, leaderIncarnation: this.regs.get(1)!.value.incarnation, leaderEpoch: 1, isr: [...IDS] };
    const value = withIsrProcesses(first, null, (id) => this.regs.get(id));
    this.rec = { value, modRevision: ++this.rev };
    for (const id of IDS) this.joined.set(id, this.proc.get(id)!);
  }

  restart(id: number): void {
    const rev = ++this.rev;
    this.regs.set(id, { value: { id, zone: 'z', incarnation: `lease-${rev}`, bootstrap: '', owners: [] }, modRevision: rev });
    this.proc.set(id, rev);
  }

  newLease(id: number): void {
    const process = this.proc.get(id)!;
    const rev = ++this.rev;
    this.regs.set(id, { value: { id, zone: 'z', incarnation: `lease-${rev}`, processRevision: process, bootstrap: '', owners: [] }, modRevision: rev });
  }

  write(step: Extract<Step, { kind: 'write' }>): void {
    const prev = this.rec;
    const kept = prev.value.isr.filter((id) => step.keep[id - 1]);
    // Only a registered broker joins an ISR (the leader's compare-and-swap guards its registration).
    const added = IDS.filter((id) => !prev.value.isr.includes(id) && step.add[id - 1] && this.regs.has(id));
    const isr = [...kept, ...added];
    const candidates = isr.filter((id) => this.regs.has(id));
    const leader = candidates.length > 0 ? candidates[step.leaderPick % candidates.length]! : -1;
    const next = withIsrProcesses({ ...prev.value, isr, leader, leaderIncarnation: leader < 0 ? '' : this.regs.get(leader)!.value.incarnation }, prev, (id) => this.regs.get(id));
    this.rec = { value: next, modRevision: ++this.rev };
    for (const id of added) this.joined.set(id, this.proc.get(id)!);
    if (leader >= 0) this.joined.set(leader, this.proc.get(leader)!);
    for (const id of this.joined.keys()) if (!isr.includes(id)) this.joined.delete(id);
  }

  apply(step: Step): void {
    if (step.kind === 'restart') this.restart(step.id);
    else if (step.kind === 'new-lease') {
      if (this.regs.has(step.id)) this.newLease(step.id);
    } else if (step.kind === 'stop') this.regs.delete(step.id);
    else this.write(step);
  }
}

describe('isrProcesses: a restart is never hidden by a later write of the partition record', () => {
  it('an ISR member is restarted exactly when its process is not the one the ISR took in', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => {
        const m = new Model();
        for (const step of steps) {
          m.apply(step);
          for (const id of m.rec.value.isr) {
            const reg = m.regs.get(id);
            if (reg === undefined) continue;
            expect(restartedSinceIsr(m.rec, id, reg), `broker ${id} after ${JSON.stringify(step)}`).toBe(m.proc.get(id) !== m.joined.get(id));
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the history the rule it replaced got wrong: a restart, then an ISR write that keeps the member', () => {
    const m = new Model();
    m.apply({ kind: 'restart', id: 3 });
    // The leader shrinks the ISR for broker 4, keeping 3 (it has not noticed the restart yet).
    m.apply({ kind: 'write', keep: [true, true, true, false], add: [false, false, false, false], leaderPick: 0 });
    const reg = m.regs.get(3)!;
    // The record was written after broker 3's process started: the old rule saw nothing.
    expect(processRevisionOf(reg)).toBeLessThan(m.rec.modRevision);
    expect(restartedSinceIsr(m.rec, 3, reg)).toBe(true);
    // Another lease in the same process after that is still the same process: still restarted, no more.
    m.apply({ kind: 'new-lease', id: 1 });
    expect(restartedSinceIsr(m.rec, 1, m.regs.get(1)!)).toBe(false);
  });

  it('a record written before isrProcesses existed: a kept member that restarted after its last write is written down as restarted', () => {
    const m = new Model();
    const legacy = { ...m.rec.value };
    delete legacy.isrProcesses;
    m.rec = { value: legacy, modRevision: m.rec.modRevision };
    m.apply({ kind: 'restart', id: 2 });
    expect(restartedSinceIsr(m.rec, 2, m.regs.get(2)!)).toBe(true);
    expect(restartedSinceIsr(m.rec, 3, m.regs.get(3)!)).toBe(false);
    m.apply({ kind: 'write', keep: [true, true, true, true], add: [false, false, false, false], leaderPick: 0 });
    expect(restartedSinceIsr(m.rec, 2, m.regs.get(2)!)).toBe(true);
    expect(restartedSinceIsr(m.rec, 3, m.regs.get(3)!)).toBe(false);
  });
});
