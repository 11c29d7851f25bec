/**
 * What an agent must do to make its replicas match its desired state: a pure function of the
 * desired replica kinds and the replicas it has (starting or running). The agent starts what is
 * missing first and stops what is surplus only once those serve, so a new revision takes over
 * without a gap (the order Kubernetes' rolling update uses with maxUnavailable 0).
 *
 * A deployment's old revision is stopped only once one of its desired revisions serves: a new
 * revision that cannot start leaves the old one serving, as AWS IoT Greengrass v2 rolls a failed
 * deployment back to the components it ran before.
 */
import type { DesiredReplica } from './protocol.js';

/** A replica the agent has, whether starting or serving. */
export interface HeldReplica {
  readonly id: string;
  readonly deployment: string;
  readonly revision: number;
  /** Serving now (not still starting). */
  readonly ready: boolean;
}

/** The steps that make the held replicas match the desired ones. */
export interface ReconcilePlan {
  /** Kinds to start, each `count` more times. */
  readonly start: readonly { readonly replica: DesiredReplica; readonly count: number }[];
  /** Held replicas to stop (no longer wanted, or beyond the wanted count; newest first). */
  readonly stop: readonly string[];
  /** Deployments whose old revision keeps serving because none of their desired revisions serves yet. */
  readonly kept: readonly string[];
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
  const servesDesired = new Set(held.filter((h) => h.ready && wanted.has(key(h.deployment, h.revision))).map((h) => h.deployment));
  const desiredDeployments = new Set(desired.map((d) => d.deployment));
  const kept = new Set<string>();
  for (const [k, have] of byKind) {
    if (wanted.has(k)) continue;
    const deployment = (have[0] as HeldReplica).deployment;
    if (desiredDeployments.has(deployment) && !servesDesired.has(deployment)) kept.add(deployment);
    else stop.push(...have.map((h) => h.id));
  }
  return { start, stop, kept: [...kept] };
}
