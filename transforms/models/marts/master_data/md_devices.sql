-- Golden devices. Matching rule: manufacturer + serial number (upper-case) is one physical device;
-- without a serial, the source record stands alone. Survivorship: latest-ingested non-null value.
with devices as (
    select d.*, o.organization_code,
        {{ device_master_key('d') }} as master_key
    from {{ ref('int_devices') }} d
    join {{ ref('source_organisations') }} o on o.source_id = d.source_id
)

select
    {{ surrogate_id(["master_key"]) }} as master_device_id,
    master_key,
    max(serial_no) as serial_no,
    max_by(device_name, _ingested_at) filter (where device_name is not null) as device_name,
    max_by(device_type, _ingested_at) filter (where device_type is not null) as device_type,
    max_by(manufacturer, _ingested_at) filter (where manufacturer is not null) as manufacturer,
    max_by(model, _ingested_at) filter (where model is not null) as model,
    max_by(organization_code, _ingested_at) as organization_code,
    max_by(department_code, _ingested_at) filter (where department_code is not null) as department_code,
    max_by(install_date, _ingested_at) filter (where install_date is not null) as install_date,
    count(*) as source_record_count
from devices
group by master_key
