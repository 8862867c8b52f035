package restic

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors restic reports through its exit status (restic ≥ 0.17).
var (
	ErrNoRepository  = errors.New("no restic repository at this location")
	ErrLocked        = errors.New("the repository is locked by another restic process")
	ErrWrongPassword = errors.New("the encryptionKey does not open this repository")
	// ErrStalled is the watchdog's verdict: restic kept retrying requests
	// the store did not answer, and nothing moved.
	ErrStalled = errors.New("the object store stopped answering")
)

// Error is a restic command that failed.
type Error struct {
	Command string // the restic subcommand
	Repo    string // the repository URL (no credentials in it)
	Code    int    // exit status, or -1 when killed
	Stderr  string // restic's last stderr lines, scrubbed
	kind    error
}

func (e *Error) Error() string {
	var msg string
	switch e.kind {
	case nil:
		msg = fmt.Sprintf("restic %s on %s failed (exit status %d)", e.Command, e.Repo, e.Code)
	case ErrNoRepository:
		msg = fmt.Sprintf("restic %s: no repository at %s (is backupArtifactPrefix the one the backup used?)", e.Command, e.Repo)
	case ErrWrongPassword:
		msg = fmt.Sprintf("restic %s: the encryptionKey does not open the repository at %s", e.Command, e.Repo)
	case ErrStalled:
		msg = fmt.Sprintf("restic %s: the object store of %s stopped answering (restic kept retrying with no progress and was stopped)", e.Command, e.Repo)
	default:
		msg = fmt.Sprintf("restic %s on %s: %v", e.Command, e.Repo, e.kind)
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.kind }

const (
	// stderrTail is how many of restic's last stderr lines an error quotes.
	stderrTail = 6
	// maxQuotedLine bounds each stderr line an error quotes.
	maxQuotedLine = 240
	// retryMarker is how restic reports a request it will retry.
	retryMarker = "returned error, retrying"
	// killGrace is how long restic has to remove its lock after SIGTERM.
	killGrace = 10 * time.Second
)

// call is one restic invocation.
type call struct {
	args []string
	// stdin, when set, is fed to restic. If reading it fails, restic is
	// killed before its input is closed, so a broken stream never becomes a
	// snapshot of truncated data.
	stdin io.Reader
	// stdout receives restic's stdout; nil collects it into the result.
	stdout io.Writer
	// log receives restic's stderr, scrubbed, line by line.
	log io.Writer
	// statusOnStdout: stdout carries periodic status, which is not a sign
	// of progress for the watchdog (backup --json).
	statusOnStdout bool
}

// run executes c and returns restic's stdout when c.stdout is nil.
func (r *Repo) run(ctx context.Context, c call) ([]byte, error) {
	args := append(append([]string{}, r.args...), c.args...)
	cmd := exec.Command(r.binary, args...)
	cmd.Env = append(cleanEnv(os.Environ()), r.env...)
	wd := &watchdog{lastProgress: time.Now()}

	var collected bytes.Buffer
	out := c.stdout
	if out == nil {
		out = &collected
	}
	cmd.Stdout = progressWriter{out, wd}
	if c.statusOnStdout {
		cmd.Stdout = out
	}

	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	var stdinW *os.File
	if c.stdin != nil {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		cmd.Stdin, stdinW = pr, pw
	}
	err = cmd.Start()
	if f, ok := cmd.Stdin.(*os.File); ok {
		// restic has its own copy of the read end now. Ours must go, or a
		// write into a restic that died would block on a full pipe
		// instead of failing with EPIPE, and the phase would hang.
		f.Close()
	}
	if err != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		return nil, fmt.Errorf("start restic (%s): %w", r.binary, err)
	}

	var (
		mu       sync.Mutex
		killedBy error
	)
	kill := func(cause error, hard bool) {
		mu.Lock()
		defer mu.Unlock()
		if killedBy != nil {
			return
		}
		killedBy = cause
		if hard {
			_ = cmd.Process.Kill()
		} else {
			// SIGTERM lets restic remove its lock; SIGKILL follows.
			_ = cmd.Process.Signal(syscall.SIGTERM)
			time.AfterFunc(killGrace, func() { _ = cmd.Process.Kill() })
		}
	}

	var wg sync.WaitGroup
	tail := &tailLines{max: stderrTail}
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := r.scrub(strings.TrimRight(sc.Text(), "\r"))
			// restic clears its status line with an escape sequence.
			line = strings.TrimPrefix(line, "\x1b[2K")
			if strings.Contains(line, retryMarker) {
				wd.failing()
			}
			tail.add(line)
			if c.log != nil {
				fmt.Fprintln(c.log, "restic:", line)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()

	stdinDone := make(chan error, 1)
	if stdinW != nil {
		go func() {
			_, err := io.Copy(stdinW, progressReader{c.stdin, wd})
			if err != nil && !errors.Is(err, syscall.EPIPE) {
				// Kill before closing: restic must never see EOF after a
				// broken input.
				kill(fmt.Errorf("reading the data to back up: %w", err), true)
				stdinDone <- err
				return
			}
			stdinW.Close()
			stdinDone <- nil
		}()
	}

	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				kill(context.Cause(ctx), false)
				return
			case <-t.C:
				if wd.stalled(r.stall) {
					kill(ErrStalled, false)
					return
				}
			}
		}
	}()

	wg.Wait()
	waitErr := cmd.Wait()
	close(stop)
	if stdinW != nil {
		// Unblock a producer still writing into a restic that is gone; a
		// reader that can not be closed is left to its goroutine.
		if closer, ok := c.stdin.(io.Closer); ok {
			_ = closer.Close()
			if err := <-stdinDone; err != nil {
				stdinW.Close()
			}
		}
	}

	mu.Lock()
	cause := killedBy
	mu.Unlock()
	if waitErr == nil && cause == nil {
		return collected.Bytes(), nil
	}
	e := &Error{Command: c.args[0], Repo: r.url, Code: -1, Stderr: tail.String()}
	var exit *exec.ExitError
	if errors.As(waitErr, &exit) {
		e.Code = exit.ExitCode()
	}
	switch {
	case cause == ErrStalled:
		e.kind = ErrStalled
	case cause != nil:
		// Cancelled, timed out, or the input broke: that is the error, not
		// restic's reaction to being stopped.
		return nil, fmt.Errorf("restic %s on %s stopped: %w", e.Command, r.url, cause)
	case e.Code == 10:
		e.kind = ErrNoRepository
	case e.Code == 11:
		e.kind = ErrLocked
	case e.Code == 12:
		e.kind = ErrWrongPassword
	}
	return nil, e
}

// cleanEnv drops variables that would point restic elsewhere than r says.
func cleanEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RESTIC_") || strings.HasPrefix(name, "AWS_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// watchdog tracks whether restic makes progress while it reports failing
// requests.
type watchdog struct {
	mu           sync.Mutex
	lastProgress time.Time
	failingSince time.Time
}

func (w *watchdog) progress() {
	w.mu.Lock()
	w.lastProgress = time.Now()
	w.mu.Unlock()
}

// failing records a retried request; an episode of failures starts at the
// first one after the last progress.
func (w *watchdog) failing() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failingSince.IsZero() || w.lastProgress.After(w.failingSince) {
		w.failingSince = time.Now()
	}
}

func (w *watchdog) stalled(limit time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.failingSince.IsZero() && !w.lastProgress.After(w.failingSince) && time.Since(w.failingSince) > limit
}

type progressReader struct {
	r  io.Reader
	wd *watchdog
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.wd.progress()
	}
	return n, err
}

type progressWriter struct {
	w  io.Writer
	wd *watchdog
}

func (p progressWriter) Write(b []byte) (int, error) {
	if len(b) > 0 {
		p.wd.progress()
	}
	return p.w.Write(b)
}

// tailLines keeps the last lines written.
type tailLines struct {
	max   int
	lines []string
}

func (t *tailLines) add(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	if len(line) > maxQuotedLine {
		line = line[:maxQuotedLine] + "…"
	}
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tailLines) String() string { return strings.Join(t.lines, "; ") }
