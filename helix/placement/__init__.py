"""Model placement: which contiguous layer range each machine holds."""
