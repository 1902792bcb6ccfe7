package clikit

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// barInterval is the shortest time between two redraws of a Bar on a
// terminal: often enough to look alive, rarely enough that a job calling
// Set in a tight loop spends nothing on the terminal.
const barInterval = 250 * time.Millisecond

// logInterval is the shortest time between two progress lines where the
// output is not a terminal (a log file, CI): a line every 10 s.
const logInterval = 10 * time.Second

// minRateTime is how long a job must have run before a Bar shows its rate
// and ETA: the first redraws come too early for the average to mean
// anything (a first Set after 1 ms of 50 rows would read 50k/s).
const minRateTime = time.Second

// Bar is a progress report for a long job (build, gen, bench). On a
// terminal it is one line redrawn in place with a carriage return:
//
//	groundtruth  42.0% 126000/300000  12.3k/s  ETA 14s
//
// Set records the count and redraws at most once per barInterval; Finish
// always redraws, showing the elapsed time instead of the ETA, and ends the
// line. Anywhere else (a file, a pipe, a CI log) a Bar writes plain lines
// instead, the first at the first Set, then one every logInterval, and a
// last one at Finish, with no carriage returns. With an unknown total (0)
// the line shows only the count, the rate and the elapsed time. The rate
// is the average since NewBar, shown once minRateTime has passed.
//
// Progress output is best effort: write errors are ignored, so a closed
// terminal never fails the job it reports on.
//
// A Bar is safe for concurrent use.
type Bar struct {
	w     io.Writer
	label string
	tty   bool             // redraw in place; false: a line per logInterval
	now   func() time.Time // the clock; tests replace it

	// mu guards the counters and the drawing state; every method holds it
	// for its whole run, so lines are never interleaved.
	mu struct {
		sync.Mutex
		start    time.Time
		total    int64
		done     int64
		lastDraw time.Time
		drawn    bool // a line has been written since NewBar
		width    int  // length of the last line, to blank what a shorter one leaves
		finished bool
		note     string // shown after the ETA ("partition 3/20"); "" for none
	}
}

// NewBar returns a Bar that writes to w (nil discards the output) for a job
// of total units (0 if unknown): redrawn in place where w is a terminal,
// periodic lines otherwise. Nothing is printed until the first Set.
func NewBar(w io.Writer, label string, total int64) *Bar {
	return newBar(w, label, total, IsTerminal(w), time.Now)
}

// IsTerminal reports whether w is a terminal (an *os.File, or anything
// with a file descriptor, open on one).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// newBar is NewBar with the mode and the clock given, for tests.
func newBar(w io.Writer, label string, total int64, tty bool, now func() time.Time) *Bar {
	if w == nil {
		w = io.Discard
	}
	b := &Bar{w: w, label: label, tty: tty, now: now}
	b.mu.start = now()
	b.mu.total = total
	return b
}

// Set records that done units are complete and redraws the line if the
// last redraw is at least barInterval old. Calls after Finish are ignored.
func (b *Bar) Set(done int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.finished {
		return
	}
	b.mu.done = done
	b.maybeDrawLocked()
}

// SetTotal changes the total, for jobs that learn their size late, and
// redraws like Set.
func (b *Bar) SetTotal(total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.finished {
		return
	}
	b.mu.total = total
	b.maybeDrawLocked()
}

// SetNote sets a short note shown at the end of the line (which part of
// the job runs, say; "" for none), redrawn like Set.
func (b *Bar) SetNote(note string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.finished || b.mu.note == note {
		return
	}
	b.mu.note = note
	b.maybeDrawLocked()
}

// Finish draws the final line, with the elapsed time, and ends it with a
// newline. Later calls of any method do nothing.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.finished {
		return
	}
	b.mu.finished = true
	b.drawLocked(b.now(), true)
}

func (b *Bar) maybeDrawLocked() {
	now := b.now()
	interval := barInterval
	if !b.tty {
		interval = logInterval
	}
	if b.mu.drawn && now.Sub(b.mu.lastDraw) < interval {
		return
	}
	b.drawLocked(now, false)
}

func (b *Bar) drawLocked(now time.Time, final bool) {
	line := barLine(b.label, b.mu.done, b.mu.total, now.Sub(b.mu.start), final)
	if b.mu.note != "" && !final {
		line += "  " + b.mu.note
	}
	b.mu.lastDraw = now
	b.mu.drawn = true
	if !b.tty {
		io.WriteString(b.w, line+"\n") // best effort, see Bar
		return
	}
	var sb strings.Builder
	sb.WriteByte('\r')
	sb.WriteString(line)
	if pad := b.mu.width - len(line); pad > 0 {
		sb.WriteString(strings.Repeat(" ", pad))
	}
	if final {
		sb.WriteByte('\n')
	}
	io.WriteString(b.w, sb.String()) // best effort, see Bar
	b.mu.width = len(line)
}

// barLine formats one progress line, without the carriage return: for a
// running job the percentage, count, rate and ETA, for a finished one
// (final) the elapsed time in place of the ETA. A running job's rate and
// ETA are unknown ("-") before minRateTime.
func barLine(label string, done, total int64, elapsed time.Duration, final bool) string {
	rate := math.NaN()
	if elapsed >= minRateTime || (final && elapsed > 0) {
		rate = float64(done) / elapsed.Seconds()
	}
	var tail string
	switch {
	case final:
		tail = "in " + barDuration(elapsed)
	case total <= 0:
		tail = barDuration(elapsed)
	case done >= total:
		tail = "ETA 0s"
	case done <= 0 || !(rate > 0):
		tail = "ETA -"
	default:
		eta := float64(total-done) / rate // seconds
		if eta >= float64(10000*3600) {
			eta = -1 // absurd; also keeps the conversion below in range
		}
		tail = "ETA " + barDuration(time.Duration(eta*float64(time.Second)))
	}
	if total <= 0 {
		return fmt.Sprintf("%s %d  %s/s  %s", label, done, barRate(rate), tail)
	}
	pct := 100 * float64(max(0, min(done, total))) / float64(total)
	return fmt.Sprintf("%s %5.1f%% %d/%d  %s/s  %s", label, pct, done, total, barRate(rate), tail)
}

// barRate formats a rate per second for people: "0.5", "950", "12.3k",
// "4.1M", "2.0G"; "-" when unknown (NaN, infinite or negative).
func barRate(r float64) string {
	switch {
	case !(r >= 0) || math.IsInf(r, 0):
		return "-"
	case r < 9.95:
		return fmt.Sprintf("%.1f", r)
	case r < 999.5:
		return fmt.Sprintf("%.0f", r)
	}
	units := [...]string{"k", "M", "G"}
	for i, u := range units {
		r /= 1000
		if r < 999.95 || i == len(units)-1 {
			return fmt.Sprintf("%.1f%s", r, u)
		}
	}
	panic("unreachable")
}

// barDuration formats a duration for people, rounded to the second:
// "14s", "3m05s", "2h07m"; "-" for a negative or absurd (≥ 10000 h) one.
func barDuration(d time.Duration) string {
	if d < 0 || d >= 10000*time.Hour {
		return "-"
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	m := (s + 30) / 60 // rounded to the minute
	return fmt.Sprintf("%dh%02dm", m/60, m%60)
}
