package server

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// OpenTelemetry tracing of calls. It is off unless Options.TracerProvider
// is set or the standard environment asks for traces (tracingFromEnv);
// off, the gRPC server has no stats handler and searches start no spans,
// so tracing costs nothing. On, the otelgrpc stats handler starts a
// server span per call (continuing the caller's trace from its
// traceparent metadata), and a Search's index steps are child spans of
// it (index/trace.go).

// traceShutdownGrace bounds how long closing the server waits for the
// spans still buffered to be exported.
const traceShutdownGrace = 5 * time.Second

// tracing is the server's tracer provider while tracing is on.
type tracing struct {
	tp trace.TracerProvider
	// shutdown flushes and stops the provider the server made from the
	// environment; nil for one the caller passed in Options.
	shutdown func(context.Context) error
}

// setupTracing turns tracing on if Options or the environment ask for
// it; s.trace stays nil otherwise.
func (s *Server) setupTracing() error {
	if s.opts.TracerProvider != nil {
		s.trace = &tracing{tp: s.opts.TracerProvider}
		return nil
	}
	on, protocol, err := tracingFromEnv(os.Getenv)
	if err != nil || !on {
		return err
	}
	ctx := context.Background()
	var exp sdktrace.SpanExporter
	if protocol == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return fmt.Errorf("server: tracing: OTLP exporter: %w", err)
	}
	// The service is "shoal" unless OTEL_SERVICE_NAME or
	// OTEL_RESOURCE_ATTRIBUTES name another (WithFromEnv comes last).
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "shoal")),
		resource.WithTelemetrySDK(), resource.WithHost(), resource.WithProcessPID(),
		resource.WithFromEnv())
	if err != nil {
		s.log.Warn("tracing: resource detection incomplete", "err", err)
	}
	// The sampler comes from OTEL_TRACES_SAMPLER and _ARG (default
	// parentbased_always_on), the batching from OTEL_BSP_*: the SDK reads
	// them.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	s.trace = &tracing{tp: tp, shutdown: tp.Shutdown}
	s.log.Info("tracing on: OTLP export", "protocol", protocol)
	return nil
}

// tracingFromEnv reads the standard OpenTelemetry variables through
// getenv: whether traces are wanted, and the OTLP protocol ("grpc" or
// "http/protobuf"). Traces are wanted when OTEL_TRACES_EXPORTER is
// "otlp", or when it is unset and an OTLP endpoint is
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
// never when OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is "none".
// Unlike the specification's default (otlp), an unset environment means
// no tracing: a server does not export to localhost:4318 unasked.
func tracingFromEnv(getenv func(string) string) (on bool, protocol string, err error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, "", nil
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "":
		on = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	case "otlp":
		on = true
	case "none":
		return false, "", nil
	default:
		return false, "", fmt.Errorf("server: OTEL_TRACES_EXPORTER=%q: the server exports traces with otlp (or none)", exp)
	}
	if !on {
		return false, "", nil
	}
	protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	if protocol == "" {
		protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	switch protocol {
	case "":
		protocol = "http/protobuf" // the specification's default
	case "grpc", "http/protobuf":
	default:
		return false, "", fmt.Errorf("server: OTLP protocol %q: want grpc or http/protobuf (http/json is not supported)", protocol)
	}
	return true, protocol, nil
}

// traceOptions returns the gRPC server options of tracing: the otelgrpc
// stats handler while tracing is on, none otherwise.
func (s *Server) traceOptions() []grpc.ServerOption {
	if s.trace == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(s.trace.tp),
		otelgrpc.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		// Call metrics are Prometheus's (metrics.go).
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
	))}
}

// stopTracing flushes the spans still buffered and stops the provider
// the server made; it waits at most traceShutdownGrace.
func (s *Server) stopTracing() error {
	if s.trace == nil || s.trace.shutdown == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), traceShutdownGrace)
	defer cancel()
	if err := s.trace.shutdown(ctx); err != nil {
		return fmt.Errorf("server: tracing shutdown: %w", err)
	}
	return nil
}
