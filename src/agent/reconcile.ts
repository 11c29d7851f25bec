/**
 * What an agent must do to make its replicas match its desired state: a pure function of the
 * desired replica kinds and the replicas it has (starting or running). The agent starts what is
 * missing first and stops what is surplus only once those serve, so a new revision takes over
 * without a gap (the order Kubernetes' rolling update uses with maxUnavailable 0).
 */
import type { DesiredReplica } from './protocol.js';

/** A replica the agent has, whether starting or serving. */
export interface HeldReplica {
  readonly id: string;
  readonly deployment: string;
  readonly revision: number;
}

/** The steps that make the held replicas match the desired ones. */
export interface ReconcilePlan {
  /** Kinds to start, each `count` more times. */
  readonly start: readonly { readonly replica: DesiredReplica; readonly count: number }[];
  /** Held replicas to stop (no longer wanted, or beyond the wanted count; newest first). */
  readonly stop: readonly string[];
}

/** Plans the reconciliation; see the module comment. */
export function planReconcile(desired: readonly DesiredReplica[], held: readonly HeldReplica[]): ReconcilePlan {
  const key = (deployment: string, revision: number): string => `${deployment}/${revision}`;
  const byKind = new Map<string, HeldReplica[]>();
  for (const h of held) byKind.set(key(h.deployment, h.revision), [...(byKind.get(key(h.deployment, h.revision)) ?? []), h]);
  const start: { replica: DesiredReplica; count: number }[] = [];
  const stop: string[] = [];
  const wanted = new Set<string>();
  for (const replica of desired) {
    const k = key(replica.deployment, replica.revision);
    wanted.add(k);
    const have = byKind.get(k) ?? [];
    if (have.length < replica.count) start.push({ replica, count: replica.count - have.length });
    for (const surplus of have.slice(replica.count).reverse()) stop.push(surplus.id);
  }
  for (const [k, have] of byKind) if (!wanted.has(k)) stop.push(...have.map((h) => h.id));
  return { start, stop };
}
