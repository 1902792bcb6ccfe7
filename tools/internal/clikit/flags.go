package clikit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/shoaldb/shoal/index"
)

// SizeFlag is a byte count flag accepting suffixes: 64MiB, 1GiB, 512k.
type SizeFlag int64

// String implements flag.Value.
func (s *SizeFlag) String() string {
	if *s == 0 {
		return "0" // so that help prints no "(default 0B)"
	}
	return FormatBytes(int64(*s))
}

// Set implements flag.Value.
func (s *SizeFlag) Set(v string) error {
	n, err := ParseBytes(v)
	if err != nil {
		return err
	}
	*s = SizeFlag(n)
	return nil
}

// ParseBytes parses a byte count with an optional unit suffix (GiB, MiB,
// KiB, GB, MB, kB, g, m, k, b; any case), as SizeFlag accepts it.
func ParseBytes(v string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSuffix(t, u.suf), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 64MiB, 1GiB, 512k)", v)
	}
	return int64(f * float64(mult)), nil
}

// FormatBytes formats a byte count for people: 1.50GiB, 64.0MiB, 512B.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// IntList is a comma-separated list of ints flag: 8,16,32.
type IntList []int

// String implements flag.Value.
func (l *IntList) String() string {
	var s []string
	for _, v := range *l {
		s = append(s, strconv.Itoa(v))
	}
	return strings.Join(s, ",")
}

// Set implements flag.Value.
func (l *IntList) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad list element %q (want positive integers, e.g. 8,16,32)", f)
		}
		*l = append(*l, n)
	}
	return nil
}

// FloatList is a comma-separated list of floats flag.
type FloatList []float64

// String implements flag.Value.
func (l *FloatList) String() string {
	var s []string
	for _, v := range *l {
		s = append(s, strconv.FormatFloat(v, 'g', -1, 64))
	}
	return strings.Join(s, ",")
}

// Set implements flag.Value.
func (l *FloatList) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return fmt.Errorf("bad list element %q", f)
		}
		*l = append(*l, n)
	}
	return nil
}

// CacheOption maps the -cache flag to index.Options.CacheBytes: 0 means no
// cache (the option's 0 means the default).
func CacheOption(s SizeFlag) int64 {
	if s == 0 {
		return -1
	}
	return int64(s)
}

// ParseStorage parses the -metric and -elem flags shared by build, create,
// client create, bench -churn and tenantgen; an empty elem means "as the source" (zero).
func ParseStorage(metric, elem string) (index.Metric, index.ElemType, error) {
	m, err := index.ParseMetric(metric)
	if err != nil {
		return 0, 0, err
	}
	var e index.ElemType
	if elem != "" {
		if e, err = index.ParseElemType(elem); err != nil {
			return 0, 0, err
		}
	}
	return m, e, nil
}

// Type implements pflag.Value.
func (s *SizeFlag) Type() string { return "size" }

// Type implements pflag.Value.
func (l *IntList) Type() string { return "ints" }

// Type implements pflag.Value.
func (l *FloatList) Type() string { return "floats" }

// ElemFlag defines -elem, the element type vectors are stored as, the same
// way for every command: def is its default ("" for "as the source"),
// what says what it sets. ParseStorage reads it; it takes f32, f16, u8
// and i8, and the long spellings float32, float16, uint8 and int8.
func ElemFlag(fs *pflag.FlagSet, p *string, def, what string) {
	help := what + ": f32, f16, u8 or i8 (float32, float16, uint8 and int8 work too)"
	if def == "" {
		help += "; default: as the source, float→integer only if lossless"
	}
	fs.StringVar(p, "elem", def, help)
}

// QuantFlag defines -quant, what the postings of a new index or
// collection hold, the same way for build, create and client create,
// with default def; index.ParseQuant reads it. Offline builds default to
// "rabitq" and indexes grown from empty by upserts to "none"
// (docs/decisions.md, "Quantized postings": a quantized index grown from
// empty re-reads rows at every split and ingests 3× slower).
func QuantFlag(fs *pflag.FlagSet, p *string, def string) {
	fs.StringVar(p, "quant", def, "what postings hold: rabitq (codes, bits by dimension), rabitq1…rabitq8 (bits per dimension) or none (full rows in every posting); with codes the rows are stored once and read to rerank exactly")
}
