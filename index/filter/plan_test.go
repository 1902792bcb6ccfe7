package filter

import "testing"

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		q     Query
		plan  Plan
		probe int
	}{
		{"nothing selected", Query{Matches: 0, Base: 1000, Probe: 32}, PlanPre, 32},
		{"forced pre", Query{Matches: 900, Base: 1000, Probe: 32, ForcePre: true}, PlanPre, 32},
		{"mode pre", Query{Matches: 900, Base: 1000, Probe: 32, Mode: Pre}, PlanPre, 32},
		{"few matches: pre by cost", Query{Matches: 100, Base: 1e6, Probe: 32}, PlanPre, 32},
		{"brute threshold", Query{Matches: 100, Base: 1e6, Probe: 32, BruteMax: 50}, PlanScan, 32 * 100},
		// 1 % selectivity: raised by (1/0.01)^0.5 = 10.
		{"raise by selectivity", Query{Matches: 1e5, Base: 1e7, Probe: 32}, PlanScan, 320},
		{"raise bounded", Query{Matches: 1e5, Base: 1e7, Probe: 32, MaxProbe: 4}, PlanScan, 128},
		{"in-scan keeps the budget", Query{Matches: 1e5, Base: 1e7, Probe: 32, Mode: InScan}, PlanScan, 32},
		{"shortlists", Query{Matches: 5000, Base: 20000, Probe: 512, Shortlists: true}, PlanShortlists, 1024},
	} {
		plan, probe := Choose(tc.q)
		if plan != tc.plan || probe != tc.probe {
			t.Errorf("%s: Choose(%+v) = %v, %d; want %v, %d", tc.name, tc.q, plan, probe, tc.plan, tc.probe)
		}
	}
}
