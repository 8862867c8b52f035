package functions

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"k8s.io/client-go/tools/remotecommand"
)

// stuckExecutor never returns from a stream, as client-go's executors may
// not once the server blocks sending output nobody reads.
type stuckExecutor struct{}

func (stuckExecutor) Stream(remotecommand.StreamOptions) error { select {} }
func (stuckExecutor) StreamWithContext(context.Context, remotecommand.StreamOptions) error {
	select {}
}

func TestStreamUntilDoneReturnsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- streamUntilDone(ctx, stuckExecutor{}, remotecommand.StreamOptions{}) }()
	cancel()
	select {
	case err := <-done:
		assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("streamUntilDone did not return after cancellation")
	}
}
