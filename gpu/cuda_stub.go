//go:build !(linux && cgo)

package gpu

import "fmt"

// openCUDA: this binary was built without cgo (or not for Linux), so it
// cannot load the CUDA driver.
func openCUDA(*Options) (Backend, error) {
	return nil, fmt.Errorf("%w: this binary was built without cgo (CGO_ENABLED=0) or not for linux", ErrNoDevice)
}
