package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestInOrder: calls overlap up to the limit, their results are handled in
// call order whatever order they finish in, and the first error stops
// further calls.
func TestInOrder(t *testing.T) {
	t.Parallel()
	const n, inFlight = 9, 3
	var mu sync.Mutex
	running, most := 0, 0
	// Each call waits for the one after it to have started (while there is
	// room for it), so the calls finish out of order.
	started := make([]chan struct{}, n+1)
	for k := range started {
		started[k] = make(chan struct{})
	}
	close(started[n])
	call := func(_ context.Context, k int) (int, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		close(started[k])
		if k%inFlight != inFlight-1 {
			<-started[k+1]
		}
		mu.Lock()
		running--
		mu.Unlock()
		return k * 10, nil
	}
	var order []int
	err := inOrder(context.Background(), n, inFlight, call, func(k, resp int, err error) error {
		if err != nil || resp != k*10 {
			return fmt.Errorf("call %d: %d, %v", k, resp, err)
		}
		order = append(order, k)
		return nil
	})
	if err != nil || fmt.Sprint(order) != "[0 1 2 3 4 5 6 7 8]" {
		t.Errorf("handled %v, %v; want every call in order", order, err)
	}
	if most < 2 || most > inFlight {
		t.Errorf("at most %d calls ran at once, want 2-%d", most, inFlight)
	}

	stop := errors.New("stop")
	var calls sync.Map
	err = inOrder(context.Background(), 50, 2, func(_ context.Context, k int) (int, error) {
		calls.Store(k, true)
		if k == 1 {
			return 0, stop
		}
		return k, nil
	}, func(k, _ int, err error) error { return err })
	made := 0
	calls.Range(func(any, any) bool { made++; return true })
	if !errors.Is(err, stop) || made > 4 {
		t.Errorf("after an error: %v, %d calls made; want the error and no more than the calls already in flight", err, made)
	}
}
