//go:build amd64 && !noasm

package rabitq

func init() {
	if hasAVX2 {
		kernels = append(kernels, kernel{"avx2", dotCodeAVX2})
	}
}
