package rabitq

// dotCodeImpl is the kernel Estimate uses: the integer sums
// Σ_i u_i·q̄_i and Σ_i u_i over a code's planes. It is chosen once at
// init(): the AVX2 kernel where it runs (score_amd64.go), else the generic
// one, as in internal/vec.
var dotCodeImpl = dotCodeGeneric

// implName names the kernel dotCodeImpl runs, for Impl.
var implName = "generic"

// Impl reports which kernel scores codes: "avx2" or "generic". Building
// with -tags noasm forces "generic".
func Impl() string { return implName }
