"""Pure helpers that guard request input: list parameters, `next` targets, petition ids."""
import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.routing import ValidationError

from app.domain.petitions import MAX_PETITION_ID as MAX_ID
from app.web.converters import PetitionIdConverter
from app.domain.errors import InvalidInput
from app.web.security import safe_next
from app.services.browsing import ListQuery, parse_list_query
from app.web.templating import progress


# -- parse_list_query ------------------------------------------------------------------------
def parse(**args):
    return parse_list_query(MultiDict(args))


def test_defaults_are_most_signed_open_petitions_page_one():
    assert parse() == ListQuery(sort="signatures", page=1, q="", state="open")


def test_empty_values_fall_back_to_defaults():
    assert parse(sort="", page="", state="", q="") == ListQuery()


@pytest.mark.parametrize("sort", ["signatures", "newest", "closing"])
def test_each_sort_order_is_accepted(sort):
    assert parse(sort=sort).sort == sort


@pytest.mark.parametrize("state", ["open", "closed"])
def test_each_state_is_accepted(state):
    assert parse(state=state).state == state


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"sort": "popular"}, "sort must be one of signatures, newest, closing"),
        ({"sort": "SIGNATURES"}, "sort must be"),
        ({"state": "draft"}, "state must be open or closed"),
        ({"page": "0"}, "page must be a whole number from 1 to 10,000"),
        ({"page": "10001"}, "page must be"),
        ({"page": "-1"}, "page must be"),
        ({"page": "1.5"}, "page must be"),
        ({"page": "abc"}, "page must be"),
        ({"page": "９"}, "page must be"),  # a non-ASCII digit int() would accept
        ({"page": "9" * 400}, "page must be"),
        ({"q": "x" * 101}, "at most 100 characters"),
    ],
)
def test_bad_parameters_raise_invalid_input(args, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        parse(**args)
    assert refused.value.status == 400


def test_page_bounds_are_inclusive():
    assert parse(page="1").page == 1
    assert parse(page="10000").page == 10_000


def test_search_text_whitespace_is_collapsed_and_length_checked_after():
    assert parse(q="  save \t the   library ").q == "save the library"
    assert parse(q="x" * 100 + "     ").q == "x" * 100


# -- safe_next (same-site paths only; issue 5 owns the long payload lists) -------------------
@pytest.mark.parametrize("target", ["/", "/petitions/12", "/?sort=newest&page=2", "/my/petitions"])
def test_site_paths_are_kept(target):
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "evil.example/path",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/path\r\nSet-Cookie: x=1",
        "/" + "a" * 2000,
    ],
)
def test_anything_that_could_leave_the_site_is_refused(target):
    assert safe_next(target) is None


# -- petition id converter -------------------------------------------------------------------
def test_ids_up_to_the_sql_integer_maximum_convert():
    converter = PetitionIdConverter(map=None)
    assert converter.to_python("1") == 1
    assert converter.to_python(str(MAX_ID)) == MAX_ID


def test_ids_beyond_sql_integer_are_refused_not_passed_to_the_database():
    with pytest.raises(ValidationError):
        PetitionIdConverter(map=None).to_python(str(MAX_ID + 1))


# -- progress bar ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("count", "expected"), [(0, (100, 0)), (42, (100, 42)), (100, (1_000, 10)), (999, (1_000, 99))]
)
def test_progress_is_the_share_of_the_next_milestone(count, expected):
    assert progress(count) == expected
