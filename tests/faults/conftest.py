from tests.django_fixtures import _eager_celery, _isolated_media  # noqa: F401 - autouse fixtures
