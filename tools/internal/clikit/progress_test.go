package clikit

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// barClock is a manual clock for Bar tests.
type barClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *barClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *barClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestBarLine(t *testing.T) {
	tests := []struct {
		name        string
		done, total int64
		elapsed     time.Duration
		final       bool
		want        string
	}{
		{"running", 126000, 300000, 10 * time.Second, false, "gen  42.0% 126000/300000  12.6k/s  ETA 14s"},
		{"nothing done", 0, 300000, time.Second, false, "gen   0.0% 0/300000  0.0/s  ETA -"},
		{"no time yet", 0, 100, 0, false, "gen   0.0% 0/100  -/s  ETA -"},
		{"complete", 100, 100, 4 * time.Second, false, "gen 100.0% 100/100  25/s  ETA 0s"},
		{"overshoot", 150, 100, 4 * time.Second, false, "gen 100.0% 150/100  38/s  ETA 0s"},
		{"minutes left", 1000, 100000, 2 * time.Second, false, "gen   1.0% 1000/100000  500/s  ETA 3m18s"},
		{"hours left", 1, 10000, time.Second, false, "gen   0.0% 1/10000  1.0/s  ETA 2h47m"},
		{"final", 300000, 300000, 24 * time.Second, true, "gen 100.0% 300000/300000  12.5k/s  in 24s"},
		{"final early", 5, 10, 90 * time.Second, true, "gen  50.0% 5/10  0.1/s  in 1m30s"},
		{"unknown total", 126000, 0, 10 * time.Second, false, "gen 126000  12.6k/s  10s"},
		{"unknown total final", 2_000_000, 0, time.Second, true, "gen 2000000  2.0M/s  in 1s"},
		{"absurd ETA", 1, math.MaxInt64, time.Hour, false, "gen   0.0% 1/9223372036854775807  0.0/s  ETA -"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := barLine("gen", tc.done, tc.total, tc.elapsed, tc.final); got != tc.want {
				t.Errorf("barLine(%d, %d, %v, %v):\n got %q\nwant %q", tc.done, tc.total, tc.elapsed, tc.final, got, tc.want)
			}
		})
	}
}

func TestBarRate(t *testing.T) {
	tests := []struct {
		r    float64
		want string
	}{
		{0, "0.0"},
		{0.46, "0.5"},
		{9.94, "9.9"},
		{9.96, "10"},
		{950, "950"},
		{999.4, "999"},
		{999.6, "1.0k"},
		{12345, "12.3k"},
		{999_949, "999.9k"},
		{999_951, "1.0M"},
		{4_100_000, "4.1M"},
		{2e9, "2.0G"},
		{5e12, "5000.0G"},
		{-1, "-"},
		{math.NaN(), "-"},
		{math.Inf(1), "-"},
	}
	for _, tc := range tests {
		if got := barRate(tc.r); got != tc.want {
			t.Errorf("barRate(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestBarDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{400 * time.Millisecond, "0s"},
		{14 * time.Second, "14s"},
		{59*time.Second + 600*time.Millisecond, "1m00s"},
		{3*time.Minute + 5*time.Second, "3m05s"},
		{59*time.Minute + 59*time.Second, "59m59s"},
		{time.Hour, "1h00m"},
		{2*time.Hour + 7*time.Minute + 29*time.Second, "2h07m"},
		{2*time.Hour + 7*time.Minute + 30*time.Second, "2h08m"},
		{130 * time.Hour, "130h00m"},
		{-time.Second, "-"},
		{10000 * time.Hour, "-"},
	}
	for _, tc := range tests {
		if got := barDuration(tc.d); got != tc.want {
			t.Errorf("barDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestBarRedrawsAtMostEveryInterval(t *testing.T) {
	clk := &barClock{t: time.Unix(1000, 0)}
	var out strings.Builder
	b := newBar(&out, "x", 100, true, clk.now)

	b.Set(1) // the first Set always draws
	clk.advance(100 * time.Millisecond)
	b.Set(2) // too soon
	clk.advance(100 * time.Millisecond)
	b.Set(3) // still too soon: 200ms since the last draw
	clk.advance(barInterval)
	b.Set(4) // draws
	b.Set(5) // too soon
	b.Finish()

	got := strings.Split(out.String(), "\r")[1:]
	if len(got) != 3 {
		t.Fatalf("got %d redraws %q, want 3 (first Set, Set after %v, Finish)", len(got), got, barInterval)
	}
	for i, want := range []string{" 1.0% 1/100", " 4.0% 4/100", " 5.0% 5/100"} {
		if !strings.Contains(got[i], want) {
			t.Errorf("redraw %d = %q, want it to contain %q", i, got[i], want)
		}
	}
	if !strings.HasSuffix(out.String(), "\n") || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("output %q: want exactly one newline, at the end", out.String())
	}
}

func TestBarPadsShorterLine(t *testing.T) {
	clk := &barClock{t: time.Unix(1000, 0)}
	var out strings.Builder
	b := newBar(&out, "x", 0, true, clk.now)
	clk.advance(time.Second)
	b.Set(123456789)
	long := out.Len() - 1 // without the '\r'
	clk.advance(time.Second)
	b.Set(1)
	lines := strings.Split(out.String(), "\r")
	last := lines[len(lines)-1]
	if want := "x 1  0.5/s  2s"; strings.TrimRight(last, " ") != want || len(last) != long {
		t.Errorf("shorter redraw = %q (%d bytes), want %q padded with spaces to %d bytes", last, len(last), want, long)
	}
}

func TestBarIgnoresCallsAfterFinish(t *testing.T) {
	var out strings.Builder
	b := NewBar(&out, "x", 10)
	b.Finish()
	n := out.Len()
	b.Set(5)
	b.SetTotal(20)
	b.Finish()
	if out.Len() != n {
		t.Errorf("output grew after Finish: %q", out.String())
	}
}

func TestBarNilWriter(t *testing.T) {
	b := NewBar(nil, "x", 10)
	b.Set(3)
	b.Finish() // must not panic
}

func TestBarConcurrentSet(t *testing.T) {
	var out strings.Builder
	b := NewBar(&out, "x", 8000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				b.Set(int64(g*1000 + i))
			}
		}()
	}
	wg.Wait()
	b.Set(8000)
	b.Finish()
	if !strings.Contains(out.String(), "100.0% 8000/8000") {
		t.Errorf("final output %q does not show 8000/8000", out.String())
	}
}

// TestBarNoRateAtFirst: a redraw before minRateTime shows no rate and no
// ETA, however many units the first call reports.
func TestBarNoRateAtFirst(t *testing.T) {
	for _, tty := range []bool{true, false} {
		clk := &barClock{t: time.Unix(1000, 0)}
		var out strings.Builder
		b := newBar(&out, "x", 1000, tty, clk.now)
		clk.advance(time.Millisecond)
		b.Set(50)
		if got := out.String(); !strings.Contains(got, "50/1000  -/s  ETA -") {
			t.Errorf("tty %v: first line %q, want no rate and no ETA after 1ms", tty, got)
		}
	}
}

// TestBarLogMode: where the output is not a terminal a Bar writes whole
// lines, no carriage returns: one at the first Set, then at most one per
// logInterval, and one at Finish.
func TestBarLogMode(t *testing.T) {
	clk := &barClock{t: time.Unix(1000, 0)}
	var out strings.Builder
	b := newBar(&out, "build", 100, false, clk.now)
	b.Set(1) // a line
	for i := range 30 {
		clk.advance(time.Second)
		b.Set(int64(2 + i)) // a line at 10 s and 20 s and 30 s
	}
	b.Finish()
	if strings.Contains(out.String(), "\r") {
		t.Fatalf("log mode wrote a carriage return: %q", out.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{"build   1.0% 1/100  -/s  ETA -", "build  11.0% 11/100  1.1/s  ETA 1m21s", "build  21.0% 21/100  1.1/s  ETA 1m15s",
		"build  31.0% 31/100  1.0/s  ETA 1m07s", "build  31.0% 31/100  1.0/s  in 30s"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("log lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestNewBarModeFollowsTheWriter: a buffer is no terminal, so NewBar
// writes log lines to it.
func TestNewBarModeFollowsTheWriter(t *testing.T) {
	var out strings.Builder
	b := NewBar(&out, "x", 10)
	b.Set(1)
	b.Finish()
	if strings.Contains(out.String(), "\r") || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("NewBar on a buffer wrote %q, want two plain lines", out.String())
	}
}

// TestBarNote: a note follows the ETA on running lines and is dropped
// from the final one.
func TestBarNote(t *testing.T) {
	clk := &barClock{t: time.Unix(1000, 0)}
	var out strings.Builder
	b := newBar(&out, "cluster", 100, false, clk.now)
	b.SetNote("partition 3/20")
	clk.advance(logInterval)
	b.Set(40)
	clk.advance(logInterval)
	b.Finish()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("got %q, want a running line and a final one", out.String())
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasSuffix(l, "  partition 3/20") {
			t.Errorf("running line %q does not end with the note", l)
		}
	}
	if last := lines[len(lines)-1]; strings.Contains(last, "partition") {
		t.Errorf("final line %q keeps the note", last)
	}
}
