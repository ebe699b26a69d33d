"""schema.org LiveBlogPosting for the reader page (JSON-LD), as search engines read live blogs."""

from __future__ import annotations

import json

from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe

from .models import LiveBlog, Post

# The same escapes as Django's json_script: the JSON cannot close its <script> element.
_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def _person(author, base: str) -> dict:
    return {"@type": "Person", "name": author.name, "url": base + author.get_absolute_url()}


def _update(post: Post, base: str, page_url: str) -> dict:
    return {
        "@type": "BlogPosting",
        "headline": post.headline,
        "datePublished": post.published_at.isoformat(),
        "dateModified": (post.edited_at or post.published_at).isoformat(),
        "author": [_person(author, base) for author in post.ordered_authors],
        "articleBody": strip_tags(post.body),
        "url": f"{page_url}#post-{post.pk}",
    }


def live_blog_posting(blog: LiveBlog, posts: list[Post], base: str) -> dict:
    page_url = base + blog.get_absolute_url()
    started = blog.coverage_started_at or blog.created_at
    data = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": blog.title,
        "description": blog.teaser,
        "url": page_url,
        "inLanguage": blog.language,
        "datePublished": started.isoformat(),
        "dateModified": blog.updated_at.isoformat(),
        "coverageStartTime": started.isoformat(),
        "liveBlogUpdate": [_update(post, base, page_url) for post in posts],
    }
    if blog.is_archived and blog.coverage_ended_at:
        data["coverageEndTime"] = blog.coverage_ended_at.isoformat()
    return data


def json_ld(data: dict) -> SafeString:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_ESCAPES)
    return mark_safe(text)  # noqa: S308 — escaped above like json_script
