package server

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "weft.yaml")
	if err := os.WriteFile(file, []byte("data-dir: /from/file\nretention: 48h\nzipkin-addr: \"off\"\nquery-addr: 9999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WEFT_RETENTION": "24h", "WEFT_QUERY_ADDR": "8888"}
	getenv := func(k string) string { return env[k] }

	tests := []struct {
		name string
		args []string
		want func(*Config) string // "" when fine
	}{
		{"defaults", nil, func(c *Config) string {
			if c.DataDir != "./weft-data" || c.OTLPGRPCAddr != "4317" || c.QueryAddr != "8888" || c.Fsync != "always" || c.MaxRequestBytes != 16<<20 {
				return "defaults wrong"
			}
			return ""
		}},
		{"file under env under flag", []string{"--config", file, "--query-addr", "7777"}, func(c *Config) string {
			switch {
			case c.DataDir != "/from/file":
				return "file value not applied: " + c.DataDir
			case c.Retention != 24*time.Hour:
				return "env should beat file: " + c.Retention.String()
			case c.QueryAddr != "7777":
				return "flag should beat env and file: " + c.QueryAddr
			case c.addr(c.ZipkinAddr) != "":
				return "zipkin should be off"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("serve", tt.args, getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.want(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("no-such-setting: 1\n"), 0o644)
	empty := filepath.Join(dir, "empty-token")
	os.WriteFile(empty, []byte("\n"), 0o600)
	none := func(string) string { return "" }
	tests := []struct {
		args    []string
		env     map[string]string
		wantErr string
	}{
		{[]string{"--fsync", "sometimes"}, nil, "--fsync"},
		{[]string{"--tls-cert", "x.pem"}, nil, "--tls-cert and --tls-key"},
		{[]string{"--config", bad}, nil, `unknown setting "no-such-setting"`},
		{[]string{"--ingest-token-file", empty}, nil, "is empty"},
		{nil, map[string]string{"WEFT_RETENTION": "forever"}, "WEFT_RETENTION"},
		{[]string{"--demo-protocol", "carrier-pigeon"}, nil, "--demo-protocol"},
		{[]string{"stray"}, nil, "unexpected argument"},
		{[]string{"--memory-limit", "lots"}, nil, "--memory-limit"},
		{[]string{"--memory-limit", "-5MiB"}, nil, "--memory-limit"},
		{[]string{"--gc-percent", "0"}, nil, "--gc-percent"},
		{nil, map[string]string{"WEFT_GC_PERCENT": "lots"}, "WEFT_GC_PERCENT"},
	}
	for _, tt := range tests {
		getenv := none
		if tt.env != nil {
			getenv = func(k string) string { return tt.env[k] }
		}
		_, err := ParseConfig("serve", tt.args, getenv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v %v: got %v, want error containing %q", tt.args, tt.env, err, tt.wantErr)
		}
	}
}

func TestTokenFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(f, []byte("s3cret\n"), 0o600)
	c, err := ParseConfig("serve", []string{"--query-token-file", f}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.QueryToken != "s3cret" {
		t.Errorf("query token %q, want s3cret", c.QueryToken)
	}
}

func TestBearer(t *testing.T) {
	tests := []struct {
		header, token string
		ok            bool
	}{
		{"", "", true},
		{"Bearer abc", "abc", true},
		{"Bearer abd", "abc", false},
		{"abc", "abc", false},
		{"", "abc", false},
		{"bearer abc", "abc", false},
	}
	for _, tt := range tests {
		if got := bearerOK(tt.header, tt.token); got != tt.ok {
			t.Errorf("bearerOK(%q, %q) = %v", tt.header, tt.token, got)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{{"900MiB", 900 << 20}, {"2GiB", 2 << 30}, {"off", 0}, {"", 0}, {"4096B", 4096}}
	for _, tt := range tests {
		c := &Config{MemoryLimit: tt.in}
		got, err := c.memoryLimit()
		if err != nil || got != tt.want {
			t.Errorf("memoryLimit(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}
