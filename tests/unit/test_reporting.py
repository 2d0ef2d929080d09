"""Warning Events held back while a replica may not write, and what becomes of them."""
import asyncio

from asab_operator.leadership import NotLeader
from asab_operator.reporting import Reporter


def pod(name: str) -> dict:
    return {"metadata": {"namespace": "ns", "name": name, "uid": f"uid-{name}"}}


class Posts:
    def __init__(self, refuse: bool = False) -> None:
        self.posted: list[tuple[str, str, str]] = []
        self.refuse = refuse

    async def __call__(self, involved, event_type, reason, message) -> None:
        if self.refuse:
            raise NotLeader("the lease ran out")
        self.posted.append((involved["metadata"]["name"], reason, message))


def run(scenario) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()


def test_a_standby_holds_problems_back_and_posts_them_when_it_leads():
    async def scenario():
        leading = False
        posts = Posts()
        reporter = Reporter(posts, may_write=lambda: leading)
        reporter.problems(pod("a"), ("Pod", "ns", "a"), ["discovery.asab/port: not a number"])
        reporter.problems(pod("b"), ("Pod", "ns", "b"), ["discovery.asab/port: not a number"])
        await asyncio.sleep(0.01)
        assert posts.posted == []
        leading = True
        reporter.flush()
        await asyncio.sleep(0.01)
        assert sorted(p[0] for p in posts.posted) == ["a", "b"]
        assert all("discovery.asab/port" in p[2] for p in posts.posted)
    run(scenario)


def test_a_problem_fixed_while_held_back_is_never_posted_and_only_its_own_source_is_dropped():
    async def scenario():
        leading = False
        posts = Posts()
        reporter = Reporter(posts, may_write=lambda: leading)
        # two sources on one object (an Advertisement and one of its Pods), and a conflict on it
        reporter.problems(pod("adv"), ("Advertisement", "ns", "adv"), ["spec.port: not a number"],
                          reason="InvalidAdvertisement")
        reporter.problems(pod("adv"), ("Advertisement", "ns", "adv", "pod-1"), ["pod-1: no IP"],
                          reason="InvalidAdvertisement")
        reporter.problems(pod("adv"), ("Advertisement", "ns", "adv", "pod-1"), [])   # fixed
        leading = True
        reporter.flush()
        await asyncio.sleep(0.01)
        assert [p[2] for p in posts.posted] == ["not advertised: spec.port: not a number"]
        reporter.forget(("Advertisement", "ns", "adv"))
        assert reporter.message(("Advertisement", "ns", "adv")) is None
    run(scenario)


def test_a_post_refused_for_the_lease_is_held_back_not_lost():
    async def scenario():
        posts = Posts(refuse=True)
        reporter = Reporter(posts)
        reporter.problems(pod("a"), ("Pod", "ns", "a"), ["discovery.asab/port: not a number"])
        await asyncio.sleep(0.01)
        assert posts.posted == []
        posts.refuse = False
        reporter.flush()
        await asyncio.sleep(0.01)
        assert [p[0] for p in posts.posted] == ["a"]
        reporter.flush()   # nothing held any more: nothing posted twice
        await asyncio.sleep(0.01)
        assert len(posts.posted) == 1
    run(scenario)
