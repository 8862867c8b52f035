//go:build integration

package scale

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// ControllerBinEnv names a prebuilt controller binary to run instead of
// building ./cmd/controller (to compare builds, e.g. without a cache trim).
const ControllerBinEnv = "BATON_CONTROLLER_BIN"

// ControllerLogEnv names a file to keep the controller's log in (by
// default it goes to the test's temporary directory, removed at the end).
const ControllerLogEnv = "SCALE_CONTROLLER_LOG"

// controllerProcess is the real controller binary running as a process of
// its own, so its memory is its own.
type controllerProcess struct {
	cmd        *exec.Cmd
	metricsURL string
	logPath    string
	exited     chan struct{}
}

// buildController compiles ./cmd/controller (or returns ControllerBinEnv).
func buildController(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(ControllerBinEnv); bin != "" {
		return bin
	}
	out := filepath.Join(t.TempDir(), "baton-controller")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/controller")
	cmd.Dir = filepath.Join("..", "..")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/controller: %v\n%s", err, msg)
	}
	return out
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// startController runs bin against kubeconfig with the flags a deployment
// would use plus extra, waits until it is ready and stops it when the test
// ends (printing the end of its log if the test failed).
func startController(t testing.TB, bin, kubeconfig string, extra []string) *controllerProcess {
	t.Helper()
	metricsAddr := "127.0.0.1:" + freePort(t)
	probeAddr := "127.0.0.1:" + freePort(t)
	args := []string{
		"--kubeconfig=" + kubeconfig, "--leader-elect=false",
		"--metrics-bind-address=" + metricsAddr, "--health-probe-bind-address=" + probeAddr,
		"--runner-service-account=" + runnerServiceAccount,
	}
	// A webhook server, if this build has one, would want certificates.
	if hasFlag(t, bin, "webhook-port") {
		args = append(args, "--webhook-port=0")
	}
	args = append(args, extra...)
	p := &controllerProcess{metricsURL: "http://" + metricsAddr + "/metrics",
		logPath: os.Getenv(ControllerLogEnv), exited: make(chan struct{})}
	if p.logPath == "" {
		p.logPath = filepath.Join(t.TempDir(), "controller.log")
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Logf("controller pid %d: %s %s", p.cmd.Process.Pid, bin, strings.Join(args[1:], " "))
	go func() {
		_ = p.cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("controller log (end):\n%s", tail(p.logPath, 40))
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		select {
		case <-p.exited:
			return false, fmt.Errorf("controller exited")
		default:
		}
		resp, err := http.Get("http://" + probeAddr + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("controller not ready: %v\n%s", err, tail(p.logPath, 40))
	}
	// Ready is not enough: until its informers have synced, what the
	// controller sees arrives in their initial list, which controller-runtime's
	// priority queue serves last. ActionSets are created once the actionset
	// controller's workers run, which its log says.
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		raw, err := os.ReadFile(p.logPath)
		if err != nil {
			return false, err
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.Contains(line, `"msg":"Starting workers"`) && strings.Contains(line, `"controller":"actionset"`) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the actionset controller's workers did not start: %v\n%s", err, tail(p.logPath, 40))
	}
	return p
}

func (p *controllerProcess) pid() int { return p.cmd.Process.Pid }

// stop asks the controller to shut down as Kubernetes would (SIGTERM) and
// kills it if it has not gone after a grace period.
func (p *controllerProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *controllerProcess) scrape(t testing.TB) []Sample {
	t.Helper()
	resp, err := http.Get(p.metricsURL)
	if err != nil {
		t.Fatalf("scrape controller metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	samples, err := ParseText(string(body))
	if err != nil {
		t.Fatalf("parse controller metrics: %v", err)
	}
	return samples
}

// hasFlag says whether bin defines flag name (read from its -h output), so
// the harness follows the controller's flags as they are added.
func hasFlag(t testing.TB, bin, name string) bool {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, "-h")
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // -h exits 0 with the flag package, 2 with others
	return strings.Contains(out.String(), "-"+name+" ") || strings.Contains(out.String(), "-"+name+"\n") ||
		strings.Contains(out.String(), "-"+name+"=")
}

func tail(path string, lines int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
