// The shape of a catalogue case: a stable name, the verdict it expects, and per tier the data that tier needs.
import type { Evidence } from '../../contract/evidence.js';
import type { Target } from '../../contract/target.js';
import type { Decision, Layer, Verdict } from '../../contract/verdict.js';
import type { Censor as LabCensor } from '../lab/censor.js';
import type { ProbeRun } from '../lab/lab.js';
import type { Censor as LoopbackCensor, ObservationExpectation, ScenarioTarget } from '../loopback/scenario.js';

/** What the decision must say besides the verdict (each field checked only when given). */
export interface DecisionExpectation {
  layer?: Layer | null;
  /** Exact (to 5 places). */
  confidence?: number;
  subjects?: string[];
  /** Each must match the decision's reason. */
  reason?: RegExp[];
  /** The scope (absent: full, and the decision must have no `working`). */
  scope?: 'partial';
  working?: string[];
}

/** Evidence made with the builders of classify-builders.ts. */
export interface BuiltEvidence {
  /** What the case shows, one line (the test's title after the case's name). */
  about: string;
  target: Target;
  evidence: Evidence;
  expect?: DecisionExpectation;
}

/**
 * A golden pair in test/fixtures/classify/: <fixture>.evidence.json (target, evidence, optional
 * control) must classify to exactly <fixture>.decision.json.
 */
export interface GoldenEvidence {
  fixture: string;
}

/** One target's run as the canary rule sees it: the classifier's decision and the evidence it came from. */
export interface CanaryRun {
  target: Target;
  decision: Decision;
  evidence: Evidence;
}

/** The run-level canary rule (applyCanaries) over several targets' decisions; the case's verdict is the first run's. */
export interface CanaryEvidence {
  about: string;
  runs: CanaryRun[];
  /** The verdict of every run after the rule, in order. */
  verdicts: Verdict[];
  /** Each must match the reason of every offline decision. */
  reason?: RegExp[];
}

/** Pure tier: evidence in, decision out, no network. */
export type EvidenceTier = BuiltEvidence | GoldenEvidence | CanaryEvidence;

/** Pure tier with the control's evidence (what a vantage point outside Kazakhstan saw). */
export type ControlTier = (BuiltEvidence & { control: Evidence }) | GoldenEvidence;

/** Loopback tier: the real engine and real sockets against fake servers and a fake censor (test/loopback/world.ts). */
export interface LoopbackTier {
  about: string;
  target: ScenarioTarget;
  censor: LoopbackCensor;
  /** The probe's step timeout for this case (ms) when the suite's short one is too short (a handshake slowed past 2 s). */
  timeoutMs?: number;
  expect?: {
    layer?: Layer | null;
    /** Lower bound on the decision's confidence. */
    minConfidence?: number;
    scope?: 'partial';
    /** Each must match the decision's reason. */
    reason?: RegExp[];
    /** Observations that must be in the evidence, each with these fields. */
    observations?: ObservationExpectation[];
  };
}

/** Verdict and layer of one lab target. */
export interface LabExpected {
  verdict: Verdict;
  layer: Layer | null;
}

/** Lab tier: the real ashyq-probe in a network namespace behind a censoring router (test/lab/). The scenario's name is the case's. */
export interface LabTier {
  /** One line for `npm run lab -- list` and the test's title. */
  summary: string;
  /** How the censor does it, in terms of the tools on the router. */
  mechanism: string;
  apply(censor: LabCensor): Promise<void>;
  /** Lab targets whose verdict is not ok; every other lab target must be ok. */
  blocked: Readonly<Record<string, LabExpected>>;
  /** When set, every lab target gets this verdict (shutdown). */
  all?: LabExpected;
  /** What the evidence must show besides the verdicts: that the censor's mechanism really acted on the wire. */
  check(run: ProbeRun): void;
  /** How many times `run --once` measures the scenario (each run checked); default 1. */
  runs?: number;
  /**
   * What the daemon's run under the scenario shows: `upload` (default) measured, uploaded and stored;
   * `spool` cut off from the collector, everything kept and delivered after the shutdown; `skip` not run.
   */
  daemon?: 'upload' | 'spool' | 'skip';
}

export const TIERS = ['evidence', 'control', 'loopback', 'lab'] as const;
export type Tier = (typeof TIERS)[number];

export interface CatalogueCase {
  /** Stable and unique across the catalogue; a lab scenario is known by it (`npm run lab -- up <name>`). */
  name: string;
  /** The verdict every tier of the case expects (for the lab: of every blocked target; for canary runs: of the first run). */
  verdict: Verdict;
  evidence?: EvidenceTier;
  control?: ControlTier;
  loopback?: LoopbackTier;
  lab?: LabTier;
}

export function isGolden(t: EvidenceTier | ControlTier): t is GoldenEvidence {
  return 'fixture' in t;
}

export function isCanary(t: EvidenceTier): t is CanaryEvidence {
  return 'runs' in t;
}
