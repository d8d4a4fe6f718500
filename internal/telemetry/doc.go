// Package telemetry is what node and coordinator share to be operated:
// the plain-text listener for Prometheus metrics and the standard gRPC
// health service (Listener), the health service's states (Health), the
// bytes of every gRPC message by kind (MessageBytes), and the structured
// logger (NewLogger).
//
// # One port, two protocols
//
// Kubernetes' native gRPC probes and grpc-health-probe without -tls speak
// HTTP/2 in plain text (prior knowledge); Prometheus and curl speak
// HTTP/1.1. The listener serves both on one port: a request that is
// HTTP/2 with a gRPC content type goes to a gRPC server holding only the
// health service, everything else to the HTTP handlers (/metrics,
// /livez, /readyz). The listener has no authentication, so it binds to a
// loopback address unless the operator allows another explicitly
// (CheckAddr): it exposes operational figures, never records, keys or
// query contents.
//
// # Health
//
// Every server reports three services: "liveness", SERVING whenever the
// process runs, so that a federation waiting for a member never gets a
// healthy process restarted; "" and "readiness" (and the server's own
// service name), SERVING exactly when the server can do its work, as its
// owner defines it. Registries are created by the servers' owners and
// passed in: the package keeps no global state.
package telemetry
