//go:build !amd64 || noasm

package vec

// Without assembly for this architecture, or with it left out by
// -tags noasm, the generic Go kernels serve every call.
func init() {
	useGeneric()
}
