package gpu

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMode(t *testing.T) {
	for s, want := range map[string]Mode{"auto": Auto, "ON": On, "off": Off, "": Auto, "false": Off, "true": On} {
		got, err := ParseMode(s)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", s, got, err, want)
		}
		if err == nil && got.String() != map[Mode]string{Auto: "auto", On: "on", Off: "off"}[got] {
			t.Errorf("Mode %d prints %q", got, got.String())
		}
	}
	if _, err := ParseMode("gpu0"); err == nil {
		t.Error(`ParseMode("gpu0") succeeded`)
	}
}

func TestOpenOff(t *testing.T) {
	b, err := Open(&Options{Mode: Off})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Info().Kind != KindCPU {
		t.Fatalf("Mode Off opened %v", b.Info().Name)
	}
}

// TestOpenWithoutDevice checks the modes' contracts on a machine with no
// usable GPU: Auto falls back to the CPU and says why, On fails and says
// why. On a machine with one, it is skipped (cuda_test.go covers it).
func TestOpenWithoutDevice(t *testing.T) {
	var logged []string
	logf := func(f string, args ...any) { logged = append(logged, f) }
	b, err := Open(&Options{Mode: Auto, Logf: logf})
	if err != nil {
		t.Fatalf("Open(Auto) failed: %v", err)
	}
	defer b.Close()
	if b.Info().Kind == KindCUDA {
		t.Skipf("a CUDA device is usable here: %s", b.Info().Name)
	}
	if b.Info().Reason == "" || len(logged) != 1 {
		t.Fatalf("Open(Auto) fell back to %q without saying why (reason %q, %d log lines)", b.Info().Name, b.Info().Reason, len(logged))
	}
	_, err = Open(&Options{Mode: On})
	if !errors.Is(err, ErrNoDevice) {
		t.Fatalf("Open(On) without a device: %v, want ErrNoDevice", err)
	}
	if !strings.Contains(err.Error(), "libcuda.so.1") && !strings.Contains(err.Error(), "cuInit") &&
		!strings.Contains(err.Error(), "cgo") && !strings.Contains(err.Error(), "device") {
		t.Fatalf("Open(On) error %q does not name the cause", err)
	}
	t.Logf("Open(On): %v", err)
}
