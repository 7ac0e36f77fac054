package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// listeners are the names weft logs in its "listening" lines, and the environment variable each Node program
// reads the address from.
var listeners = map[string]string{
	"otlp-grpc": "WEFT_OTLP_GRPC",
	"otlp-http": "WEFT_OTLP_HTTP",
	"zipkin":    "WEFT_ZIPKIN",
	"datadog":   "WEFT_DATADOG",
	"jaeger":    "WEFT_JAEGER",
	"query":     "WEFT_QUERY",
}

// unavailable fails the test when CI=true (CI must run the suite) and skips it elsewhere.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (set CI=true to make this a failure)", args...)
}

// nodePrograms finds node and npm and makes sure the locked packages are installed in node/, running npm ci
// when any of them is missing. It returns the path of node and the absolute node/ directory.
func nodePrograms(t *testing.T) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable(t, "node is not installed: %v", err)
	}
	dir, err = filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	missing, err := missingPackages(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) == 0 {
		return node, dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		unavailable(t, "npm is not installed (%v) and node/node_modules lacks %s", err, strings.Join(missing, ", "))
	}
	t.Logf("node/node_modules lacks %s: running npm ci", strings.Join(missing, ", "))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		unavailable(t, "npm ci in %s: %v\n%s", dir, err, out)
	}
	if missing, err = missingPackages(dir); err != nil || len(missing) > 0 {
		unavailable(t, "after npm ci, node/node_modules still lacks %s (%v)", strings.Join(missing, ", "), err)
	}
	return node, dir
}

// missingPackages lists the dependencies of node/package.json that node_modules does not hold.
func missingPackages(dir string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return nil, fmt.Errorf("node/package.json: %w", err)
	}
	var missing []string
	for name := range pkg.Dependencies {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", name, "package.json")); err != nil {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// weft is a running `weft serve`: the addresses of its listeners and what it has written to stderr.
type weft struct {
	addrs map[string]string // listener name → host:port

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	mu   sync.Mutex
	logs []string
}

// log is what weft has written to stderr so far.
func (w *weft) log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.logs, "\n")
}

// env is the environment the Node programs run with: this process's, plus one WEFT_* variable per listener.
func (w *weft) env() []string {
	env := os.Environ()
	for name, v := range listeners {
		env = append(env, v+"="+w.addrs[name])
	}
	return env
}

// buildWeft compiles ../cmd/weft into a temporary directory with the go command that runs this test.
func buildWeft(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "weft")); err != nil {
		t.Fatalf("weft's source is not at %s: %v", root, err)
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		gocmd = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "weft")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gocmd, "build", "-o", bin, "./cmd/weft")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/weft: %v\n%s", err, out)
	}
	return bin
}

// startWeft runs `weft serve` with every listener on a free loopback port and a fresh data directory, and
// waits until it says it is ready. It is stopped, with SIGTERM as a user would, when the test ends; a shutdown
// that fails or hangs fails the test.
func startWeft(t *testing.T, bin string) *weft {
	t.Helper()
	args := []string{"serve", "--data-dir", t.TempDir(), "--listen-host", "127.0.0.1", "--log-format", "json"}
	for name := range listeners {
		args = append(args, "--"+name+"-addr", "127.0.0.1:0")
	}
	w := &weft{addrs: map[string]string{}, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	w.cmd.Env = append(os.Environ(), "WEFT_CONFIG=") // nothing from the developer's own configuration
	stderr, err := w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start weft serve: %v", err)
	}

	ready := make(chan struct{})
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			var rec struct {
				Msg      string `json:"msg"`
				Listener string `json:"listener"`
				Addr     string `json:"addr"`
			}
			_ = json.Unmarshal([]byte(line), &rec) // a line that is not JSON is kept for the log all the same
			w.mu.Lock()
			w.logs = append(w.logs, line)
			if rec.Msg == "listening" && rec.Listener != "" {
				w.addrs[rec.Listener] = rec.Addr
			}
			w.mu.Unlock()
			if rec.Msg == "weft is ready" && !signalled {
				signalled = true
				close(ready)
			}
		}
		io.Copy(io.Discard, stderr)
		w.cmd.Wait()
	}()

	t.Cleanup(func() {
		select {
		case <-w.done:
			t.Errorf("weft serve exited before the test ended: %v\n%s", w.cmd.ProcessState, w.log())
			return
		default:
		}
		w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
			if !w.cmd.ProcessState.Success() {
				t.Errorf("weft serve after SIGTERM: %v\n%s", w.cmd.ProcessState, w.log())
			}
		case <-time.After(30 * time.Second):
			w.cmd.Process.Kill()
			<-w.done
			t.Errorf("weft serve did not stop within 30 s of SIGTERM\n%s", w.log())
		}
		if t.Failed() {
			t.Logf("weft serve's log:\n%s", w.log())
		}
	})

	select {
	case <-ready:
	case <-w.done:
		t.Fatalf("weft serve exited before it was ready: %v\n%s", w.cmd.ProcessState, w.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("weft serve was not ready within 60 s\n%s", w.log())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for name := range listeners {
		if w.addrs[name] == "" {
			t.Fatalf("weft serve logged no address for listener %q\n%s", name, strings.Join(w.logs, "\n"))
		}
	}
	return w
}

// sent is what a Node program prints once its client has delivered the trace.
type sent struct {
	TraceID    string `json:"traceId"`
	Service    string `json:"service"`
	BaseMicros int64  `json:"baseMicros"` // the root span's start, Unix microseconds
}

// runNode runs one Node program against w and reads what it sent.
func runNode(t *testing.T, node, dir string, w *weft, args ...string) sent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = w.env()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("node %s did not finish within 90 s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	if err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	t.Logf("node %s ran in %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var s sent
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || s.TraceID == "" || s.Service == "" || s.BaseMicros == 0 {
		t.Fatalf("node %s printed %q, want a JSON line with traceId, service and baseMicros (%v)\nstderr:\n%s", strings.Join(args, " "), stdout.String(), err, stderr.String())
	}
	return s
}
