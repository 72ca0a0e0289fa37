"""IP allowlists, trusted proxies and rate limits."""

from __future__ import annotations

from ipaddress import ip_network

from security.access import BurstDetector, RateLimit, RateLimiter, allowed, client_address

PROXIES = [ip_network("10.0.0.0/8")]


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    assert client_address("203.0.113.7", "198.51.100.1", PROXIES) == "203.0.113.7"
    assert client_address("10.0.0.5", "198.51.100.1", PROXIES) == "198.51.100.1"
    # a client cannot smuggle an address in front: the right-most hop our proxies did not add counts
    assert client_address("10.0.0.5", "192.0.2.66, 198.51.100.1, 10.0.0.9", PROXIES) == "198.51.100.1"
    assert client_address("10.0.0.5", None, PROXIES) == "10.0.0.5"


def test_allowlist_empty_means_anywhere_and_garbage_is_never_allowed() -> None:
    nets = [ip_network("127.0.0.0/30")]
    assert allowed("127.0.0.2", nets) and not allowed("127.0.0.9", nets)
    assert allowed("anything", []) and not allowed("not-an-ip", nets)


def test_token_bucket_allows_bursts_then_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(lambda: now[0])
    limit = RateLimit(per_second=2, burst=3)
    assert [limiter.take("a", limit)[0] for _ in range(4)] == [True, True, True, False]
    ok, wait = limiter.take("a", limit)
    assert not ok and 0 < wait <= 0.5
    now[0] = 0.5
    assert limiter.take("a", limit)[0] and not limiter.take("a", limit)[0]
    assert limiter.take("b", limit)[0]  # buckets are per key


def test_a_burst_alerts_once_a_minute_and_a_steady_flow_never() -> None:
    now = [0.0]
    bursts = BurstDetector(lambda: now[0])
    steady = []
    for _ in range(120):  # 1 call/s: 60 a minute, exactly the limit
        steady.append(bursts.hit("steady", 60))
        now[0] += 1
    assert not any(steady)
    hits = [bursts.hit("flood", 10) for _ in range(50)]  # 50 calls in no time
    assert hits.count(True) == 1 and hits.index(True) == 10
    now[0] += 61
    assert [bursts.hit("flood", 10) for _ in range(11)].count(True) == 1  # a new minute, a new alert
