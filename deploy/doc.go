// Package deploy holds what an operator deploys fedscore with: the OCI
// image builder (deploy/image), systemd units (deploy/systemd) and
// Kubernetes manifests (deploy/kubernetes); see README.md. Its tests check
// those files, run the standard gRPC clients operators use against a
// running federation, and run a federation across network namespaces.
package deploy
