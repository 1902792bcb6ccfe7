package gpu

import (
	"fmt"
	"strings"
)

// Mode chooses between the CUDA and CPU kernels (Open, the build's
// Options.GPU, the CLI's --gpu flag).
type Mode uint8

const (
	// Off never touches a GPU: callers run their own CPU code. The zero
	// value.
	Off Mode = iota
	// Auto uses a CUDA device when one is usable, else the CPU, and says
	// which and why.
	Auto
	// On requires a CUDA device: without one, Open fails with an error
	// wrapping ErrNoDevice that names the cause.
	On
)

// String returns "off", "auto" or "on", which ParseMode accepts.
func (m Mode) String() string {
	switch m {
	case Off:
		return "off"
	case Auto:
		return "auto"
	case On:
		return "on"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Valid reports whether m is one of the defined modes.
func (m Mode) Valid() bool { return m <= On }

// ParseMode returns the mode named by s ("auto", "on" or "off"; also
// "true"/"false", ignoring case).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "off", "false", "no", "cpu":
		return Off, nil
	case "auto", "":
		return Auto, nil
	case "on", "true", "yes", "cuda":
		return On, nil
	}
	return 0, fmt.Errorf("gpu: mode %q: want auto, on or off", s)
}
