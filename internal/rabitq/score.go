package rabitq

// dotCodeImpl is the kernel Estimate uses: the integer sums
// Σ_i u_i·q̄_i and Σ_i u_i over a code's planes. There is no assembly yet;
// it is a variable so that one can be chosen at init() as in internal/vec.
var dotCodeImpl = dotCodeGeneric
