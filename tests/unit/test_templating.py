"""Templates render without their own indentation; what they render is left exactly as it is."""
from jinja2 import DictLoader, Environment

from app.web.templating import StripIndentation

TEMPLATE = """<ul>
    {% for item in items %}
    <li class="item"
        data-x="{{ item }}">{{ item }}</li>
    {% endfor %}
</ul>"""


def test_template_indentation_is_left_out_but_every_space_between_words_stays():
    env = Environment(loader=DictLoader({"list.html": TEMPLATE}), extensions=[StripIndentation], autoescape=True)
    rendered = env.get_template("list.html").render(items=["a"])
    assert rendered == '<ul>\n\n<li class="item"\ndata-x="a">a</li>\n\n</ul>'


def test_rendered_values_keep_their_own_indentation():
    env = Environment(loader=DictLoader({"body.html": "<div>\n    {{ text }}\n</div>"}), extensions=[StripIndentation])
    assert env.get_template("body.html").render(text="first\n    second\t\n\tthird") == "<div>\nfirst\n    second\t\n\tthird\n</div>"
