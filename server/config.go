package server

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything `weft serve` can be told. Each field is a flag; each flag can also be set by the
// environment variable WEFT_<FLAG NAME IN UPPER CASE WITH _ FOR ->, or by a key of the same name as the flag in
// the YAML file given with --config. A flag on the command line wins over the environment, which wins over the
// file, which wins over the default.
type Config struct {
	DataDir    string
	ListenHost string

	OTLPGRPCAddr string
	OTLPHTTPAddr string
	ZipkinAddr   string
	DatadogAddr  string
	JaegerAddr   string
	QueryAddr    string

	Fsync           string // "always" or "interval"
	FsyncInterval   time.Duration
	MaxRequestBytes int64
	MaxInFlight     int64         // bytes of decoded spans waiting for the log and the store
	MaxPending      int           // spans taken but not yet written into a block
	AdmitWait       time.Duration // how long a request is held for room before it is answered 429
	MemoryLimit     string
	GCPercent       int // Go's GOGC
	Retention       time.Duration

	IngestToken     string
	IngestTokenFile string
	QueryToken      string
	QueryTokenFile  string
	TLSCert         string
	TLSKey          string

	LogLevel  string
	LogFormat string

	Demo         bool
	DemoRate     float64 // demo requests per second
	DemoProtocol string  // how the demo's taster reports: otlp, zipkin, datadog, jaeger
}

// flagSet binds c's fields to a FlagSet with their defaults and help texts.
func (c *Config) flagSet(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	configFile := fs.String("config", "", "YAML file of settings; keys are the flag names (env WEFT_CONFIG)")
	fs.StringVar(&c.DataDir, "data-dir", "./weft-data", "where the embedded store and the write-ahead log live")
	fs.StringVar(&c.ListenHost, "listen-host", "127.0.0.1", "host that listeners given as a bare port bind to; weft warns when a listener is reachable beyond loopback without a token")
	fs.StringVar(&c.OTLPGRPCAddr, "otlp-grpc-addr", "4317", "OTLP/gRPC receiver: port or host:port, or off")
	fs.StringVar(&c.OTLPHTTPAddr, "otlp-http-addr", "4318", "OTLP/HTTP receiver (POST /v1/traces): port or host:port, or off")
	fs.StringVar(&c.ZipkinAddr, "zipkin-addr", "9411", "Zipkin receiver (POST /api/v2/spans, /api/v1/spans): port or host:port, or off")
	fs.StringVar(&c.DatadogAddr, "datadog-addr", "8126", "Datadog agent receiver (/v0.3-/v0.5/traces, /info): port or host:port, or off")
	fs.StringVar(&c.JaegerAddr, "jaeger-addr", "14268", "Jaeger thrift-over-HTTP receiver (POST /api/traces): port or host:port, or off")
	fs.StringVar(&c.QueryAddr, "query-addr", "16686", "query APIs (Jaeger, Zipkin, weft), web UI, /metrics, /healthz, /readyz: port or host:port, or off")
	fs.StringVar(&c.Fsync, "fsync", "always", "when the write-ahead log is synced before a request is acknowledged: always (every group commit) or interval")
	fs.DurationVar(&c.FsyncInterval, "fsync-interval", 100*time.Millisecond, "with --fsync interval, how often the log is synced")
	fs.Int64Var(&c.MaxRequestBytes, "max-request-bytes", 16<<20, "largest request body accepted, compressed or decompressed; larger ones get 413")
	fs.Int64Var(&c.MaxInFlight, "max-inflight-bytes", 256<<20, "decoded spans held between receipt and the store before receivers answer 429")
	fs.IntVar(&c.MaxPending, "max-pending-spans", 400000, "spans taken but not yet written into a block before receivers answer 429; bounds the server's memory")
	fs.DurationVar(&c.AdmitWait, "admit-wait", 500*time.Millisecond, "while --max-pending-spans are pending, how long a request waits, unread, for blocks to make room before it is answered 429 (0: answer at once)")
	fs.StringVar(&c.MemoryLimit, "memory-limit", "900MiB", "soft limit on the server's memory (Go's GOMEMLIMIT: the collector works harder near it), as bytes with a unit (MiB, GiB), or off; a GOMEMLIMIT in the environment wins")
	fs.IntVar(&c.GCPercent, "gc-percent", 200, "how far the heap may grow over live data before a collection, in percent (Go's GOGC); --memory-limit still holds the heap below its limit; a GOGC in the environment wins")
	fs.DurationVar(&c.Retention, "retention", 7*24*time.Hour, "how long spans are kept")
	fs.StringVar(&c.IngestToken, "ingest-token", "", "bearer token every receiver requires (empty: none)")
	fs.StringVar(&c.IngestTokenFile, "ingest-token-file", "", "file holding the ingest token")
	fs.StringVar(&c.QueryToken, "query-token", "", "bearer token the query APIs and UI require (empty: none)")
	fs.StringVar(&c.QueryTokenFile, "query-token-file", "", "file holding the query token")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate: serve every listener over TLS")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.BoolVar(&c.Demo, "demo", false, "also run the matchmaker demo and its traffic, reporting to this weft")
	fs.Float64Var(&c.DemoRate, "demo-rate", 5, "with --demo, requests per second the traffic generator sends")
	fs.StringVar(&c.DemoProtocol, "demo-protocol", "zipkin", "with --demo, the protocol the taster service reports through: otlp, zipkin, datadog or jaeger")
	return fs, configFile
}

// ParseConfig reads the command line, the environment and the optional YAML file into a Config.
func ParseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs, configFile := c.flagSet(name)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: weft %s [flags]\n\nEvery flag can also be set by WEFT_<FLAG> in the environment (for example WEFT_DATA_DIR)\nor by a key of the same name in the --config YAML file. Precedence: flag, environment, file, default.\n\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if *configFile == "" && !set["config"] {
		*configFile = getenv("WEFT_CONFIG")
	}
	if *configFile != "" {
		raw, err := os.ReadFile(*configFile)
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("config file %s: %w", *configFile, err)
		}
		keys := make([]string, 0, len(doc))
		for k := range doc {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if fs.Lookup(k) == nil || k == "config" {
				return nil, fmt.Errorf("config file %s: unknown setting %q", *configFile, k)
			}
			if set[k] || getenv(envName(k)) != "" {
				continue
			}
			if err := fs.Set(k, fmt.Sprint(doc[k])); err != nil {
				return nil, fmt.Errorf("config file %s: %s: %w", *configFile, k, err)
			}
		}
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" || envErr != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s: %w", envName(f.Name), err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	return c, c.validate()
}

func envName(flagName string) string {
	return "WEFT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (c *Config) validate() error {
	switch c.Fsync {
	case "always", "interval":
	default:
		return fmt.Errorf("--fsync: want always or interval, got %q", c.Fsync)
	}
	if c.MaxRequestBytes <= 0 {
		return fmt.Errorf("--max-request-bytes: must be positive")
	}
	if c.Retention <= 0 {
		return fmt.Errorf("--retention: must be positive")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if _, err := c.memoryLimit(); err != nil {
		return err
	}
	if c.GCPercent <= 0 {
		return fmt.Errorf("--gc-percent: must be positive, got %d", c.GCPercent)
	}
	switch c.DemoProtocol {
	case "otlp", "zipkin", "datadog", "jaeger":
	default:
		return fmt.Errorf("--demo-protocol: want otlp, zipkin, datadog or jaeger, got %q", c.DemoProtocol)
	}
	for name, v := range map[string]string{"ingest": c.IngestTokenFile, "query": c.QueryTokenFile} {
		if v == "" {
			continue
		}
		b, err := os.ReadFile(v)
		if err != nil {
			return fmt.Errorf("--%s-token-file: %w", name, err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return fmt.Errorf("--%s-token-file %s is empty", name, v)
		}
		if name == "ingest" {
			c.IngestToken = tok
		} else {
			c.QueryToken = tok
		}
	}
	return nil
}

// addr turns a listener setting into a host:port, or "" for off.
func (c *Config) addr(v string) string {
	if v == "" || v == "off" {
		return ""
	}
	if !strings.Contains(v, ":") {
		return c.ListenHost + ":" + v
	}
	return v
}

// memoryLimit reads --memory-limit as bytes; 0 means off.
func (c *Config) memoryLimit() (int64, error) {
	v := strings.TrimSpace(c.MemoryLimit)
	if v == "" || v == "off" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n <= 0 {
				break
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("--memory-limit: want a size like 900MiB or 2GiB, or off; got %q", c.MemoryLimit)
}
