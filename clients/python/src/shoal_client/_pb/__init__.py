"""Generated gRPC stubs of shoal.v1 (gen.sh). DO NOT EDIT."""
