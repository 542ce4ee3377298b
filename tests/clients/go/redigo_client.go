// redigo_client.go - a Go program (its own system calls, its own resolver:
// no LD_PRELOAD reaches it) using Debian's redigo, for 47-supervisor.
// Built in the test in GOPATH mode, offline.
//
//	redigo_client ADDR   pipelines, a value of several MiB, 50 goroutines
//	                     each with its own connection, pub/sub, BLPOP with
//	                     a timeout; one "ok NAME" line per check, exit 1
//	                     at the first failure.
//	redigo_client dialtimeout ADDR
//	                     a dial with a 300 ms connect timeout to a server
//	                     that never answers: how long it took to fail.
package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
)

var addr string

func dial() redis.Conn {
	c, err := redis.Dial("tcp", addr, redis.DialConnectTimeout(10*time.Second))
	if err != nil {
		fail("dial", err)
	}
	return c
}

func fail(what string, err interface{}) {
	fmt.Printf("FAIL %s: %v\n", what, err)
	os.Exit(1)
}

func pipeline() {
	c := dial()
	defer c.Close()
	const n = 5000
	for i := 0; i < n; i++ {
		c.Send("SET", fmt.Sprintf("go:p:%d", i), i)
	}
	for i := 0; i < n; i++ {
		c.Send("GET", fmt.Sprintf("go:p:%d", i))
	}
	if err := c.Flush(); err != nil {
		fail("pipeline flush", err)
	}
	for i := 0; i < n; i++ {
		if s, err := redis.String(c.Receive()); err != nil || s != "OK" {
			fail("pipeline SET", fmt.Sprint(s, err))
		}
	}
	for i := 0; i < n; i++ {
		if v, err := redis.Int(c.Receive()); err != nil || v != i {
			fail("pipeline GET", fmt.Sprint(v, err))
		}
	}
	fmt.Println("ok pipeline", 2*n)
}

func bigValue() {
	c := dial()
	defer c.Close()
	v := make([]byte, 6<<20)
	rand.New(rand.NewSource(7)).Read(v)
	if _, err := c.Do("SET", "go:big", v); err != nil {
		fail("SET big", err)
	}
	back, err := redis.Bytes(c.Do("GET", "go:big"))
	if err != nil || !bytes.Equal(back, v) {
		fail("GET big", fmt.Sprint(len(back), err))
	}
	fmt.Println("ok big", len(v))
}

func goroutines() {
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := dial()
			defer c.Close()
			key := fmt.Sprintf("go:g:%d", g)
			for i := 0; i < 20; i++ {
				if _, err := c.Do("SET", key, i); err != nil {
					errs <- err
					return
				}
				if v, err := redis.Int(c.Do("GET", key)); err != nil || v != i {
					errs <- fmt.Errorf("GET %s: %v %v", key, v, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fail("goroutines", err)
	}
	fmt.Println("ok goroutines 50")
}

func pubsub() {
	sub := redis.PubSubConn{Conn: dial()}
	defer sub.Close()
	if err := sub.Subscribe("go:chan"); err != nil {
		fail("SUBSCRIBE", err)
	}
	got := make(chan string, 1)
	go func() {
		for {
			switch m := sub.Receive().(type) {
			case redis.Message:
				got <- string(m.Data)
				return
			case error:
				got <- "error: " + m.Error()
				return
			}
		}
	}()
	pub := dial()
	defer pub.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, err := redis.Int(pub.Do("PUBLISH", "go:chan", "hello"))
		if err != nil {
			fail("PUBLISH", err)
		}
		if n == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case m := <-got:
		if m != "hello" {
			fail("pubsub message", m)
		}
	case <-time.After(10 * time.Second):
		fail("pubsub", "no message")
	}
	fmt.Println("ok pubsub")
}

func blpop() {
	c := dial()
	defer c.Close()
	c.Do("DEL", "go:list")
	t0 := time.Now()
	r, err := c.Do("BLPOP", "go:list", 1)
	if err != nil || r != nil || time.Since(t0) < 900*time.Millisecond {
		fail("BLPOP timeout", fmt.Sprint(r, err, time.Since(t0)))
	}
	go func() {
		p := dial()
		defer p.Close()
		time.Sleep(200 * time.Millisecond)
		p.Do("RPUSH", "go:list", "item")
	}()
	v, err := redis.Strings(c.Do("BLPOP", "go:list", 5))
	if err != nil || len(v) != 2 || v[1] != "item" {
		fail("BLPOP", fmt.Sprint(v, err))
	}
	fmt.Println("ok blpop")
}

func dialTimeout(a string) {
	t0 := time.Now()
	_, err := redis.Dial("tcp", a, redis.DialConnectTimeout(300*time.Millisecond))
	took := "1 s or more"
	if time.Since(t0) < time.Second {
		took = "under 1 s"
	}
	fmt.Printf("dial failed: %v, after %s\n", err != nil, took)
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "dialtimeout" {
		dialTimeout(os.Args[2])
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: redigo_client HOST:PORT")
		os.Exit(2)
	}
	addr = os.Args[1]
	pipeline()
	bigValue()
	goroutines()
	pubsub()
	blpop()
}
