package benchcli

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/shoaldb/shoal/tools/internal/clikit"
	"github.com/shoaldb/shoal/tools/internal/sweep"
)

// plotSVG draws recall@k (x) against single-thread QPS (y, log scale), one
// line per ε, as a self-contained SVG.
func plotSVG(r *sweep.Report) []byte {
	const w, h, ml, mr, mt, mb = 640.0, 420.0, 70.0, 20.0, 40.0, 50.0
	minR, maxR := 1.0, 0.0
	minQ, maxQ := math.Inf(1), 0.0
	for _, p := range r.Points {
		minR, maxR = math.Min(minR, p.Recall), math.Max(maxR, p.Recall)
		minQ, maxQ = math.Min(minQ, p.QPS[1]), math.Max(maxQ, p.QPS[1])
	}
	if len(r.Points) == 0 || maxQ <= 0 {
		minR, maxR, minQ, maxQ = 0, 1, 1, 10
	}
	minR = math.Max(0, math.Floor(minR*20)/20)
	maxR = math.Min(1, math.Ceil(maxR*20)/20)
	if maxR <= minR {
		maxR = minR + 0.05
	}
	lq0, lq1 := math.Floor(math.Log10(minQ)), math.Ceil(math.Log10(maxQ))
	if lq1 <= lq0 {
		lq1 = lq0 + 1
	}
	x := func(rec float64) float64 { return ml + (rec-minR)/(maxR-minR)*(w-ml-mr) }
	y := func(q float64) float64 { return h - mb - (math.Log10(q)-lq0)/(lq1-lq0)*(h-mt-mb) }
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="20" text-anchor="middle" font-size="14">%s: recall@%d vs QPS (1 thread), %d×%d, cache %s</text>`+"\n",
		w/2, r.Label, r.K, r.Manifest.Count, r.Manifest.Dim, clikit.FormatBytes(r.CacheBytes))
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", ml, h-mb, w-mr, h-mb)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>`+"\n", ml, mt, ml, h-mb)
	for rec := minR; rec <= maxR+1e-9; rec += 0.05 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%.2f</text>`+"\n", x(rec), h-mb+16, rec)
	}
	for e := lq0; e <= lq1; e++ {
		fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end">%g</text>`+"\n", ml-6, y(math.Pow(10, e))+4, math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/>`+"\n", ml, y(math.Pow(10, e)), w-mr, y(math.Pow(10, e)))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">recall@%d</text>`+"\n", w/2, h-10, r.K)
	fmt.Fprintf(&b, `<text x="16" y="%g" transform="rotate(-90 16 %g)" text-anchor="middle">QPS</text>`+"\n", h/2, h/2)
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}
	var epss []float64
	for _, p := range r.Points {
		if !slices.Contains(epss, p.Epsilon) {
			epss = append(epss, p.Epsilon)
		}
	}
	for i, eps := range epss {
		c := colors[i%len(colors)]
		var pts []sweep.Point
		for _, p := range r.Points {
			if p.Epsilon == eps {
				pts = append(pts, p)
			}
		}
		b.WriteString(`<polyline fill="none" stroke="` + c + `" stroke-width="2" points="`)
		for _, p := range pts {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(p.Recall), y(p.QPS[1]))
		}
		b.WriteString("\"/>\n")
		for _, p := range pts {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>nprobe %d: recall %.4f, %.0f QPS</title></circle>`+"\n", x(p.Recall), y(p.QPS[1]), c, p.NProbe, p.Recall, p.QPS[1])
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10">%d</text>`+"\n", x(p.Recall)+4, y(p.QPS[1])-4, p.NProbe)
		}
		fmt.Fprintf(&b, `<text x="%g" y="%g" fill="%s">ε=%g</text>`+"\n", w-mr-60, mt+16*float64(i+1), c, eps)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
