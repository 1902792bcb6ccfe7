// Package apicheck holds one test, TestPublicAPI: the exported API of
// Shoal's public packages (the embedded library index with index/filter,
// the server, the client and the wire API) names Shoal's own types only.
// No exported identifier of them may have, take or return a type from an
// internal/ package, and package index may not expose the layers below it
// (cluster, posting, tenant): their types stay implementation details.
// Package gpu is the one lower package index's API names, by design: a
// caller may open an accelerator and hand it to Options.GPUBackend.
package apicheck
