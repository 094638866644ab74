"""Bulletin crawlers: parsers for every supported format, Scrapy spiders, the crawl stage.

Parsers (:mod:`crawlers.parsers`) are plain functions usable without Scrapy; spiders only fetch
bytes and hand them to the parsers, and the item pipeline stores the records.
"""
