"""The package's declared dependencies are enough to run it: a test environment has more installed
(pytest brings ``packaging``, for one), which once hid a missing runtime dependency."""

from importlib.metadata import requires


def test_gunicorn_is_required_with_its_gevent_extra():
    requirements = requires("kimiproxy") or []
    gunicorn = [r for r in requirements if r.startswith("gunicorn")]
    assert gunicorn and "[gevent]" in gunicorn[0], gunicorn
