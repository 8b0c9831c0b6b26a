// The card's risk distribution, most severe first.
import type { RiskCounts } from "../../ipc";

export type RiskSegment = {
  level: keyof RiskCounts;
  label: string;
  short: string;
  count: number;
};

export function riskSegments(risk: RiskCounts): RiskSegment[] {
  return [
    { level: "critical", label: "critical-risk devices", short: "critical", count: risk.critical },
    { level: "high", label: "high-risk devices", short: "high", count: risk.high },
    { level: "medium", label: "medium-risk devices", short: "medium", count: risk.medium },
    { level: "low", label: "low-risk devices", short: "low", count: risk.low },
    { level: "none", label: "devices without risk", short: "none", count: risk.none },
  ];
}
