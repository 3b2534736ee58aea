import {
  getArgumentValues,
  getNamedType,
  isObjectType,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/** Fields that only wrap a connection's records; they cost nothing themselves. */
const PASS_THROUGH = new Set(['edges', 'nodes', 'node']);
/** Cost of a connection without `first`/`last`, as Jobber documents. */
const DEFAULT_CONNECTION_SIZE = 100;
const REQUESTED = Symbol('requested');

export interface CostInput {
  schema: GraphQLSchema;
  operation: OperationDefinitionNode;
  fragments: Record<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
}

/**
 * Query cost the way Jobber documents it: 1 per field (scalar or object), 0 for `edges`, `nodes`,
 * `node` and `__typename`; a connection costs 1 plus `first` (or `last`, else 100) times the cost
 * of one record; `totalCount` costs as much as one record per page slot ("expensive").
 * Plain lists count one item. With `data`, the same walk uses the counts actually returned.
 */
export function queryCost(input: CostInput, data?: unknown): number {
  const root = input.operation.operation === 'mutation' ? input.schema.getMutationType() : input.schema.getQueryType();
  if (!root) return 0;
  return selectionCost(input, root, input.operation.selectionSet, data === undefined ? REQUESTED : data);
}

type Value = unknown;

function collectFields(
  input: CostInput,
  type: GraphQLObjectType,
  selectionSet: SelectionSetNode,
  out = new Map<string, FieldNode[]>(),
): Map<string, FieldNode[]> {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const key = selection.alias?.value ?? selection.name.value;
      out.set(key, [...(out.get(key) ?? []), selection]);
    } else {
      const fragment = selection.kind === Kind.FRAGMENT_SPREAD ? input.fragments[selection.name.value] : selection;
      if (!fragment) continue;
      const condition = fragment.typeCondition?.name.value;
      if (condition && condition !== type.name && !type.getInterfaces().some((i) => i.name === condition)) continue;
      collectFields(input, type, fragment.selectionSet, out);
    }
  }
  return out;
}

function mergedSelection(nodes: FieldNode[]): SelectionSetNode | undefined {
  const sets = nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
  if (!sets.length) return undefined;
  return { kind: Kind.SELECTION_SET, selections: sets.flatMap((s) => s.selections) };
}

function selectionCost(input: CostInput, type: GraphQLObjectType, selectionSet: SelectionSetNode, value: Value): number {
  let total = 0;
  for (const [key, nodes] of collectFields(input, type, selectionSet)) {
    const node = nodes[0]!;
    const name = node.name.value;
    if (name === '__typename') continue;
    const field = type.getFields()[name];
    if (!field) continue;
    const own = PASS_THROUGH.has(name) ? 0 : 1;
    const named = getNamedType(field.type);
    const childSelection = mergedSelection(nodes);
    const childValue = value === REQUESTED ? REQUESTED : (value as Record<string, unknown> | null)?.[key];
    if (!isObjectType(named) || !childSelection) {
      total += own;
      continue;
    }
    if (named.name.endsWith('Connection')) {
      const args = getArgumentValues(field, node, input.variables) as { first?: number | null; last?: number | null };
      const size = args.first ?? args.last ?? DEFAULT_CONNECTION_SIZE;
      total += own + connectionCost(input, named, childSelection, childValue, size);
      continue;
    }
    total += own + objectCost(input, named, childSelection, childValue);
  }
  return total;
}

/** An object or a list of objects: with real data, sum over the items actually returned. */
function objectCost(input: CostInput, type: GraphQLObjectType, selectionSet: SelectionSetNode, value: Value): number {
  if (value === REQUESTED) return selectionCost(input, type, selectionSet, REQUESTED);
  if (value === null || value === undefined) return 0;
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + objectCost(input, type, selectionSet, item), 0);
  return selectionCost(input, type, selectionSet, value);
}

function connectionCost(input: CostInput, type: GraphQLObjectType, selectionSet: SelectionSetNode, value: Value, size: number): number {
  let total = 0;
  for (const [key, nodes] of collectFields(input, type, selectionSet)) {
    const name = nodes[0]!.name.value;
    const field = type.getFields()[name];
    if (!field || name === '__typename') continue;
    const named = getNamedType(field.type);
    const childSelection = mergedSelection(nodes);
    const childValue = value === REQUESTED ? REQUESTED : (value as Record<string, unknown> | null)?.[key];
    if (name === 'totalCount') {
      total += size;
    } else if ((name === 'nodes' || name === 'edges') && isObjectType(named) && childSelection) {
      total += childValue === REQUESTED ? size * selectionCost(input, named, childSelection, REQUESTED) : objectCost(input, named, childSelection, childValue);
    } else if (isObjectType(named) && childSelection) {
      total += 1 + objectCost(input, named, childSelection, childValue);
    } else {
      total += 1;
    }
  }
  return total;
}

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

/** Jobber's leaky bucket: points restore continuously at `restoreRate` per second up to the maximum. */
export class CostBuckets {
  private readonly buckets = new Map<string, { available: number; at: number }>();

  constructor(
    private readonly config: { maximumAvailable: number; restoreRate: number },
    private readonly nowMs: () => number,
  ) {}

  status(key: string): ThrottleStatus {
    const bucket = this.refill(key);
    return {
      maximumAvailable: this.config.maximumAvailable,
      currentlyAvailable: Math.floor(bucket.available),
      restoreRate: this.config.restoreRate,
    };
  }

  /** True when `cost` points are available now (nothing is taken). */
  canAfford(key: string, cost: number): boolean {
    return cost <= this.refill(key).available;
  }

  take(key: string, cost: number): void {
    const bucket = this.refill(key);
    bucket.available = Math.max(0, bucket.available - cost);
  }

  reset(): void {
    this.buckets.clear();
  }

  private refill(key: string): { available: number; at: number } {
    const now = this.nowMs();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { available: this.config.maximumAvailable, at: now };
      this.buckets.set(key, bucket);
    }
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    bucket.available = Math.min(this.config.maximumAvailable, bucket.available + elapsed * this.config.restoreRate);
    bucket.at = now;
    return bucket;
  }
}

/** The documented request limit (2,500 per 5 minutes per app and account), as a sliding window. */
export class RequestLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly config: { max: number; windowMs: number },
    private readonly nowMs: () => number,
  ) {}

  /** Counts one request; when over the limit returns the seconds until one is allowed again. */
  hit(key: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const now = this.nowMs();
    const since = now - this.config.windowMs;
    const hits = (this.hits.get(key) ?? []).filter((t) => t > since);
    this.hits.set(key, hits);
    if (hits.length >= this.config.max) {
      const retryAfterMs = hits[0]! + this.config.windowMs - now;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
    }
    hits.push(now);
    return { allowed: true };
  }

  reset(): void {
    this.hits.clear();
  }
}
