"""Judgements that need two tiers' measurements: ST2's host<->device bandwidth against ST1's PCIe link.

Pure: results in, warnings added to the ST2 result.
"""

from __future__ import annotations

import re
from typing import Any

# PCIe payload bandwidth per lane and direction, GB/s (after line coding), by generation.
PCIE_LANE_GBPS = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}
MIN_FRACTION = 0.4  # healthy links give 75-90 % of the theoretical figure


def bus_key(bus_id: str | None) -> tuple[int, int, int, int] | None:
    """'00000000:00:06.0' (NVML) and '0000:00:06.0' (CUDA) -> (domain, bus, device, function)."""
    if not bus_id:
        return None
    m = re.fullmatch(r"\s*([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+)\.([0-9a-fA-F]+)\s*", bus_id)
    return tuple(int(x, 16) for x in m.groups()) if m else None  # type: ignore[return-value]


def pcie_expected_gbps(gen: int | None, width: int | None) -> float | None:
    if not gen or not width or gen not in PCIE_LANE_GBPS:
        return None
    return PCIE_LANE_GBPS[gen] * width


def pcie_warnings(results: list[Any]) -> None:
    """Add a pcie-bandwidth-low warning to ST2 for each GPU whose copies ran under 40 % of its link's maximum."""
    by_id = {r.id: r for r in results}
    st1, st2 = by_id.get("ST1"), by_id.get("ST2")
    if st1 is None or st2 is None or st1.status != "pass" or st2.status != "pass":
        return
    links = {}
    for g in st1.metrics.get("gpus") or []:
        key = bus_key(g.get("bus_id"))
        if key is not None:
            links[key] = g
    for g in st2.metrics.get("gpus") or []:
        link = links.get(bus_key(g.get("bus_id")))
        if link is None:
            continue
        gen, width = link.get("pcie_gen_max"), link.get("pcie_width_max")
        expected = pcie_expected_gbps(gen, width)
        measured = min(g.get("h2d_gbps") or 0.0, g.get("d2h_gbps") or 0.0)
        if expected is None or measured <= 0 or measured >= MIN_FRACTION * expected:
            continue
        st2.warnings.append({
            "cause": "pcie-bandwidth-low",
            "title": f"GPU {g.get('ordinal')}: host<->device copies at {measured:.1f} GB/s on a PCIe Gen{gen} x{width} link",
            "evidence": f"GPU {g.get('ordinal')} ({g.get('name')}): H2D {g.get('h2d_gbps')} GB/s, D2H {g.get('d2h_gbps')} GB/s; "
                        f"link Gen{gen} x{width} (now Gen{link.get('pcie_gen')} x{link.get('pcie_width')})",
            "expected": f">= {MIN_FRACTION * expected:.0f} GB/s ({MIN_FRACTION:.0%} of the link's {expected:.0f} GB/s)",
            "params": {"measured_gbps": f"{measured:.1f}", "expected_gbps": f"{expected:.0f}", "link": f"Gen{gen} x{width}"},
        })
